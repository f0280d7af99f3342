/**
 * SIP/SIPS URIs (RFC 3261 §19.1, grammar §25.1) and tel: URIs (RFC 3966, kept minimal).
 * Escapes are undone on parse and redone on format (§19.1.2), so `sip:%75se%72@h` and
 * `sip:user@h` give the same model. Any other scheme is a SipParseError with status 416
 * (§8.2.2.1, RFC 4475 §3.3.2 unkscm / §3.3.3 novelsc); bad syntax is a 400.
 */
import type { Params, SipUri } from "./types.js";
import { SipParseError } from "./types.js";
import {
  HNV,
  HOST,
  PARAMCHAR,
  PASSWORD,
  TELCHAR,
  USER,
  allIn,
  allInEscaped,
  bad,
  escape,
  isDigits,
  isHex,
  unescape,
} from "./scan.js";

/** Parses a URI as found in a Request-URI or between `<` and `>`. */
export function parseUri(text: string): SipUri {
  const colon = text.indexOf(":");
  if (colon <= 0) throw bad("URI without scheme");
  const scheme = text.slice(0, colon).toLowerCase();
  if (scheme === "sip" || scheme === "sips") return parseSip(scheme, text, colon + 1);
  if (scheme === "tel") return parseTel(text, colon + 1);
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (§25.1): well-formed but not ours → 416.
  if (/^[a-z][a-z0-9+.-]*$/.test(scheme) && colon + 1 < text.length && !/[\s<>"]/.test(text)) {
    throw new SipParseError(`unsupported URI scheme ${scheme}`, 416);
  }
  throw bad("malformed URI");
}

function parseSip(scheme: "sip" | "sips", s: string, i: number): SipUri {
  const uri: SipUri = { scheme, host: "", params: new Map(), headers: new Map() };
  // userinfo ends at '@'. User may hold ';', '?', '/', ',' (user-unreserved), so find '@' first:
  // neither host, params nor headers may contain a raw '@' (RFC 4475 semiuri, intmeth).
  const at = s.indexOf("@", i);
  if (at >= 0) {
    const userinfo = s.slice(i, at);
    const pc = userinfo.indexOf(":");
    const user = pc >= 0 ? userinfo.slice(0, pc) : userinfo;
    if (!allInEscaped(USER, user)) throw bad("bad URI user");
    uri.user = unescape(user);
    if (pc >= 0) {
      const pw = userinfo.slice(pc + 1);
      if (pw.length > 0 && !allInEscaped(PASSWORD, pw)) throw bad("bad URI password");
      uri.password = unescape(pw);
    }
    i = at + 1;
  }
  const n = s.length;
  let j = i;
  if (j < n && s.charCodeAt(j) === 91 /* [ */) {
    const close = s.indexOf("]", j);
    if (close < 0) throw bad("unterminated IPv6 reference");
    const inner = s.slice(j + 1, close);
    if (!isIpv6(inner)) throw bad("bad IPv6 reference");
    uri.host = s.slice(j, close + 1);
    j = close + 1;
  } else {
    while (j < n) {
      const c = s.charCodeAt(j);
      if (c === 58 || c === 59 || c === 63) break; // : ; ?
      j++;
    }
    const host = s.slice(i, j);
    if (!isHostname(host)) throw bad("bad URI host");
    uri.host = host;
  }
  if (j < n && s.charCodeAt(j) === 58 /* : */) {
    let k = j + 1;
    while (k < n && s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57) k++;
    uri.port = parsePort(s.slice(j + 1, k));
    j = k;
  }
  const q = s.indexOf("?", j);
  const paramEnd = q >= 0 ? q : n;
  if (j < paramEnd) {
    if (s.charCodeAt(j) !== 59) throw bad("garbage after URI host");
    readUriParams(s.slice(j + 1, paramEnd), uri.params, PARAMCHAR);
  }
  if (q >= 0) {
    for (const part of s.slice(q + 1).split("&")) {
      const eq = part.indexOf("=");
      if (eq <= 0) throw bad("bad URI header");
      const hn = part.slice(0, eq);
      const hv = part.slice(eq + 1);
      if (!allInEscaped(HNV, hn) || (hv.length > 0 && !allInEscaped(HNV, hv))) throw bad("bad URI header");
      uri.headers.set(unescape(hn), unescape(hv));
    }
  }
  return uri;
}

function parseTel(s: string, i: number): SipUri {
  const semi = s.indexOf(";", i);
  const num = s.slice(i, semi >= 0 ? semi : s.length);
  if (!allInEscaped(TELCHAR_HEX, num)) throw bad("bad tel: number");
  const uri: SipUri = { scheme: "tel", user: unescape(num), host: "", params: new Map(), headers: new Map() };
  if (semi >= 0) readUriParams(s.slice(semi + 1), uri.params, PARAMCHAR);
  return uri;
}

// RFC 3966 phonedigit-hex: digits, A–F, '*', '#', and visual separators.
const TELCHAR_HEX = (() => {
  const t = new Uint8Array(128);
  for (let c = 48; c <= 57; c++) t[c] = 1;
  for (const ch of "ABCDEFabcdef") t[ch.charCodeAt(0)] = 1;
  for (let c = 0; c < 128; c++) if (TELCHAR[c]) t[c] = 1;
  return t;
})();

function readUriParams(s: string, into: Params, chars: Uint8Array): void {
  for (const part of s.split(";")) {
    const eq = part.indexOf("=");
    const name = eq >= 0 ? part.slice(0, eq) : part;
    if (!allInEscaped(chars, name)) throw bad("bad URI parameter");
    let value: string | null = null;
    if (eq >= 0) {
      const v = part.slice(eq + 1);
      if (!allInEscaped(chars, v)) throw bad("bad URI parameter value");
      value = unescape(v);
    }
    into.set(unescape(name).toLowerCase(), value);
  }
}

function parsePort(p: string): number {
  if (!isDigits(p) || p.length > 5) throw bad("bad port");
  const port = Number(p);
  if (port > 65535) throw bad("bad port");
  return port;
}

/** hostname / IPv4address (§25.1); labels of alphanumerics and '-', separated by dots. */
export function isHostname(h: string): boolean {
  if (!allIn(HOST, h)) return false;
  if (h.charCodeAt(0) === 46 || h.indexOf("..") >= 0) return false;
  return true;
}

/** Loose IPv6address check: hex groups, ':' and an optional dotted IPv4 tail. */
export function isIpv6(s: string): boolean {
  if (s.length < 2 || s.indexOf(":") < 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(isHex(c) || c === 58 || c === 46)) return false;
  }
  return true;
}

/** Writes a URI back with the escapes §19.1.2 requires (and only those). */
export function formatUri(u: SipUri): string {
  if (u.scheme === "tel") return "tel:" + escape(TELCHAR_HEX, u.user ?? "") + formatUriParams(u.params);
  let out = u.scheme + ":";
  if (u.user !== undefined) {
    out += escape(USER_FMT, u.user);
    if (u.password !== undefined) out += ":" + escape(PASSWORD, u.password);
    out += "@";
  }
  out += u.host;
  if (u.port !== undefined) out += ":" + u.port;
  out += formatUriParams(u.params);
  if (u.headers.size > 0) {
    let sep = "?";
    for (const [k, v] of u.headers) {
      out += sep + escape(HNV_FMT, k) + "=" + escape(HNV_FMT, v);
      sep = "&";
    }
  }
  return out;
}

// On output '#' is escaped again (tolerated on input only), and '&' / '=' inside header
// names/values are escaped so the `?a=b&c=d` structure stays unambiguous.
const USER_FMT = (() => {
  const t = USER.slice();
  t[35] = 0;
  return t;
})();
const HNV_FMT = HNV;

function formatUriParams(p: Params): string {
  let out = "";
  for (const [k, v] of p) out += ";" + escape(PARAMCHAR, k) + (v === null ? "" : "=" + escape(PARAMCHAR, v));
  return out;
}
