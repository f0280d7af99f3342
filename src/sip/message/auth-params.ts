/**
 * Credentials and challenges: `Digest realm="x", nonce="y", qop="auth,auth-int"`
 * (RFC 3261 §25.1 challenge/credentials, RFC 7616 §3.3–3.4, RFC 7235 §2.1). Commas inside
 * quoted strings do not split; names are lowercased; quoted values are unquoted (quoted-pair
 * undone). An unknown scheme parses the same way (RFC 4475 §3.3.7 regaut01).
 *
 * A parameter named twice is malformed (RFC 7616 §3.4: "each of the auth-params MUST NOT
 * appear more than once" for the Digest ones; nothing legitimate repeats one). Taking
 * either copy would let two readers of one header disagree, e.g. a lockout keyed on the
 * first `username` while verification used the last.
 */
import { TOKEN, bad, isIn, isWs, quote, readQuoted, skipWs } from "./scan.js";

export interface AuthParams {
  scheme: string;
  params: Map<string, string>;
}

export function parseAuthParams(value: string): AuthParams {
  const s = value;
  const n = s.length;
  let i = skipWs(s, 0);
  const start = i;
  while (i < n && isIn(TOKEN, s.charCodeAt(i))) i++;
  if (i === start) throw bad("missing auth scheme");
  const scheme = s.slice(start, i);
  if (i < n && !isWs(s.charCodeAt(i))) throw bad("bad auth scheme");
  const params = new Map<string, string>();
  // Each round consumes at least one char or throws: bounded by the value's length.
  while (i < n) {
    i = skipWs(s, i);
    while (i < n && (s.charCodeAt(i) === 44 || isWs(s.charCodeAt(i)))) i++;
    if (i >= n) break;
    const ns = i;
    while (i < n && isIn(TOKEN, s.charCodeAt(i))) i++;
    if (i === ns) throw bad(`unexpected '${s[i]}' in auth params`);
    const name = s.slice(ns, i).toLowerCase();
    if (params.has(name)) throw bad(`duplicate auth param ${name.length > 32 ? name.slice(0, 32) + "…" : name}`);
    i = skipWs(s, i);
    if (i >= n || s.charCodeAt(i) !== 61 /* = */) {
      params.set(name, "");
      continue;
    }
    i = skipWs(s, i + 1);
    if (i < n && s.charCodeAt(i) === 34) {
      const q = readQuoted(s, i);
      params.set(name, q.text);
      i = q.end;
    } else {
      const vs = i;
      while (i < n && s.charCodeAt(i) !== 44 && !isWs(s.charCodeAt(i))) i++;
      params.set(name, s.slice(vs, i));
    }
    i = skipWs(s, i);
    if (i < n && s.charCodeAt(i) !== 44) throw bad("missing ',' between auth params");
  }
  return { scheme, params };
}

/** Values that are tokens by grammar and must not be quoted (RFC 7616 §3.3/§3.4). */
const UNQUOTED = new Set(["algorithm", "stale", "nc"]);

/**
 * Writes a challenge or credentials. `qop` is quoted in a challenge (a list) and bare in
 * credentials (RFC 7616 §3.4: `qop=auth`); credentials are recognised by their `response`.
 */
export function formatAuthParams(a: AuthParams): string {
  const credentials = a.params.has("response");
  const parts: string[] = [];
  for (const [k, v] of a.params) {
    const bare = UNQUOTED.has(k) || (k === "qop" && credentials);
    parts.push(`${k}=${bare && isToken(v) ? v : quote(v)}`);
  }
  return parts.length > 0 ? `${a.scheme} ${parts.join(", ")}` : a.scheme;
}

function isToken(v: string): boolean {
  if (v.length === 0) return false;
  for (let i = 0; i < v.length; i++) if (!isIn(TOKEN, v.charCodeAt(i))) return false;
  return true;
}
