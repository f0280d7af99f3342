/**
 * HTTP Digest authentication as SIP uses it (RFC 3261 §22.4 over RFC 2617, RFC 7616 for
 * SHA-256 and the -sess variants). Both sides live here:
 *
 * - `DigestServer` issues challenges and checks credentials for the registrar and the B2BUA.
 *   Nonces are stateless (RFC 7616 §3.3 suggests "time-stamp H(time-stamp ":" ETag ":"
 *   secret)"): a timestamp, a counter and an HMAC over both with a per-process secret, so any
 *   nonce can be checked without a table, is bound to this gateway, and expires. Only the
 *   last nonce-count per nonce is remembered, in a bounded map, to refuse replays (§3.4).
 * - `digestAuthorization` answers a challenge, for the trunk or any provider that asks.
 *
 * qop=auth and the old no-qop form (RFC 2069, still sent by some phones) are supported;
 * auth-int is not offered and is refused (SIP bodies are rewritten by the B2BUA anyway).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../clock.js";
import { parseAuthParams, parseUri, type AuthParams, type SipUri } from "./message/index.js";

export type DigestAlgorithm = "MD5" | "MD5-sess" | "SHA-256" | "SHA-256-sess";

/** Why verification failed; the caller maps these to 401 / 403 / 400. */
export type DigestFailure =
  | "no-credentials" // no Digest header value at all, or another scheme
  | "malformed" // a mandatory parameter missing or unparsable (RFC 7616 §3.4)
  | "realm-mismatch"
  | "bad-nonce" // not one of ours (wrong MAC, other process, garbage)
  | "stale-nonce" // ours and correct, but too old: answer with stale=true (§3.3)
  | "unknown-user"
  | "bad-algorithm"
  | "bad-qop"
  | "bad-response" // wrong password (or wrong method/uri)
  | "uri-mismatch" // the digest-uri names another resource than the Request-URI (RFC 3261 §22.4)
  | "replay"; // nc not above the last one seen for this nonce

export type DigestVerification = { ok: true; user: string } | { ok: false; reason: DigestFailure; user?: string };

/** HA1 for a user, in the hex of the algorithm's hash, or undefined if the user is unknown. */
export type Ha1Lookup = (user: string, algorithm: DigestAlgorithm) => string | undefined;

export interface DigestServerOptions {
  realm: string;
  /** Per-process random secret that makes nonces unforgeable; 32 random bytes if omitted. */
  secret?: Buffer | string;
  /** How long a nonce stays fresh (after that: stale=true). Default 5 minutes. */
  nonceTtlMs?: number;
  clock: Clock;
  /** Algorithm offered in challenges. Default MD5: what every SIP phone speaks. */
  algorithm?: DigestAlgorithm;
  /** Offer qop="auth" (default true). Clients without qop are accepted either way. */
  qop?: boolean;
  /** Nonces whose nonce-count is tracked; the oldest is forgotten past this. Default 65536. */
  maxTrackedNonces?: number;
}

const HASH_NAME: Record<DigestAlgorithm, "md5" | "sha256"> = {
  MD5: "md5",
  "MD5-sess": "md5",
  "SHA-256": "sha256",
  "SHA-256-sess": "sha256",
};

function hashHex(alg: DigestAlgorithm, s: string): string {
  return createHash(HASH_NAME[alg]).update(s).digest("hex");
}

/** Canonical algorithm token, case-insensitive (RFC 7616 §3.3); absent means MD5 (§3.4). */
export function parseAlgorithm(token: string | undefined): DigestAlgorithm | undefined {
  if (token === undefined) return "MD5";
  switch (token.toUpperCase()) {
    case "MD5":
      return "MD5";
    case "MD5-SESS":
      return "MD5-sess";
    case "SHA-256":
      return "SHA-256";
    case "SHA-256-SESS":
      return "SHA-256-sess";
    default:
      return undefined;
  }
}

/** HA1 = H(username ":" realm ":" password) (RFC 7616 §3.4.2), before any -sess step. */
export function computeHa1(username: string, realm: string, password: string, algorithm: DigestAlgorithm = "MD5"): string {
  return hashHex(algorithm, `${username}:${realm}:${password}`);
}

export interface DigestResponseInput {
  algorithm: DigestAlgorithm;
  /** The plain HA1 (H(user:realm:password)); the -sess step is applied here. */
  ha1: string;
  nonce: string;
  method: string;
  uri: string;
  /** "auth", or undefined for the RFC 2069 form. */
  qop?: "auth";
  nc?: string;
  cnonce?: string;
}

/** request-digest of RFC 7616 §3.4.1 (RFC 2617 §3.2.2.1). */
export function digestResponse(i: DigestResponseInput): string {
  let ha1 = i.ha1;
  // -sess: HA1 = H(H(user:realm:pass) ":" nonce ":" cnonce) (§3.4.2).
  if (i.algorithm.endsWith("-sess")) ha1 = hashHex(i.algorithm, `${ha1}:${i.nonce}:${i.cnonce ?? ""}`);
  const ha2 = hashHex(i.algorithm, `${i.method}:${i.uri}`);
  if (i.qop === "auth") return hashHex(i.algorithm, `${ha1}:${i.nonce}:${i.nc}:${i.cnonce}:auth:${ha2}`);
  return hashHex(i.algorithm, `${ha1}:${i.nonce}:${ha2}`);
}

/**
 * A challenge or credentials value split into scheme and lowercased params (RFC 7616
 * §3.3/§3.4), or undefined when it does not parse: the message layer's parser, made total.
 */
export function parseDigestParams(value: string): AuthParams | undefined {
  try {
    return parseAuthParams(value);
  } catch {
    return undefined;
  }
}

function quote(s: string): string {
  return `"${s.replace(/(["\\])/g, "\\$1")}"`;
}

/** Nonce = 12 hex timestamp (ms) + 8 hex counter + 32 hex HMAC-SHA256 prefix (128 bits). */
const NONCE_LENGTH = 12 + 8 + 32;
/** Accept nonces stamped slightly in the future (clock steps backwards by NTP). */
const FUTURE_SKEW_MS = 5_000;

export class DigestServer {
  readonly realm: string;
  readonly algorithm: DigestAlgorithm;
  private readonly secret: Buffer;
  private readonly ttl: number;
  private readonly clock: Clock;
  private readonly qop: boolean;
  private readonly maxTracked: number;
  /**
   * nonce → highest nc seen (RFC 7616 §3.4: "the server can detect replays"), in two
   * generations: when the young one fills half the budget it becomes the old one and the
   * previous old one is dropped. O(1) per request, unlike evicting a Map's first key, which
   * V8 makes O(deleted entries) (13 µs per request at 64k entries, measured).
   */
  private ncYoung = new Map<number, number>();
  private ncOld = new Map<number, number>();
  /** When the young generation began (clock ms): past a nonce lifetime it turns old. */
  private youngSince: number;
  private counter = 0;
  /** HA1 stand-in for unknown users (see verify): random, so it never matches. */
  private readonly decoyHa1 = randomBytes(32).toString("hex");

  constructor(opts: DigestServerOptions) {
    this.realm = opts.realm;
    this.secret = opts.secret === undefined ? randomBytes(32) : Buffer.from(opts.secret);
    this.ttl = opts.nonceTtlMs ?? 300_000;
    this.clock = opts.clock;
    this.algorithm = opts.algorithm ?? "MD5";
    this.qop = opts.qop ?? true;
    this.maxTracked = opts.maxTrackedNonces ?? 65_536;
    this.youngSince = this.clock.now();
  }

  /** A fresh nonce for this gateway. */
  newNonce(): string {
    const ts = Math.max(0, Math.floor(this.clock.now())).toString(16).padStart(12, "0").slice(-12);
    this.counter = (this.counter + 1) >>> 0;
    const ctr = this.counter.toString(16).padStart(8, "0");
    return ts + ctr + this.mac(ts + ctr);
  }

  /**
   * The value of a WWW-Authenticate (registrar, 401) or Proxy-Authenticate (B2BUA, 407)
   * header (RFC 3261 §22.1/§22.3); the value is the same, `proxy` only documents intent.
   * `stale` tells a client its credentials were right but the nonce expired, so it retries
   * without asking the user (RFC 7616 §3.3).
   */
  challenge(opts: { stale?: boolean; proxy: boolean }): string {
    let v = `Digest realm=${quote(this.realm)}, nonce="${this.newNonce()}", algorithm=${this.algorithm}`;
    if (this.qop) v += `, qop="auth"`;
    if (opts.stale) v += ", stale=true";
    return v;
  }

  /**
   * Checks an Authorization / Proxy-Authorization value for `method`. Order matters: the
   * response is checked before nonce age, so `stale-nonce` is only reported for credentials
   * that were otherwise right (RFC 7616 §3.3 "stale ... the request-digest was valid").
   */
  verify(credentials: string | AuthParams | undefined, method: string, ha1Lookup: Ha1Lookup, requestUri?: SipUri): DigestVerification {
    if (credentials === undefined) return { ok: false, reason: "no-credentials" };
    // One parse for everyone: a caller that needs the username first (the lockout) passes
    // the parsed value, so both read the same parameters (duplicates are refused by the parser).
    let parsed: AuthParams;
    if (typeof credentials === "string") {
      try {
        parsed = parseAuthParams(credentials);
      } catch {
        // Unparsable, or a parameter given twice: malformed (RFC 7616 §3.4), never a success.
        return /^\s*digest\s/i.test(credentials) ? { ok: false, reason: "malformed" } : { ok: false, reason: "no-credentials" };
      }
    } else parsed = credentials;
    if (parsed.scheme.toLowerCase() !== "digest") return { ok: false, reason: "no-credentials" };
    const p = parsed.params;
    const user = p.get("username");
    const realm = p.get("realm");
    const nonce = p.get("nonce");
    const uri = p.get("uri");
    const response = p.get("response");
    if (user === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) {
      return { ok: false, reason: "malformed", user };
    }
    if (realm !== this.realm) return { ok: false, reason: "realm-mismatch", user };
    // RFC 3261 §22.4 / RFC 2617 §3.2.2.5: the digest-uri names the Request-URI, with or
    // without qop. The response covers the uri, not the Request-URI: unchecked, credentials
    // captured (or computed by a phone) for one number would dial another. A nonce-count
    // (qop=auth) stops a replay of the same request, not one aimed elsewhere.
    if (requestUri !== undefined && !sameResource(uri, requestUri)) return { ok: false, reason: "uri-mismatch", user };
    const algorithm = parseAlgorithm(p.get("algorithm"));
    if (!algorithm) return { ok: false, reason: "bad-algorithm", user };
    const age = this.nonceAge(nonce);
    if (age === undefined) return { ok: false, reason: "bad-nonce", user };
    const qopRaw = p.get("qop");
    let qop: "auth" | undefined;
    let ncNum = 0;
    const nc = p.get("nc");
    const cnonce = p.get("cnonce");
    if (qopRaw !== undefined) {
      if (qopRaw.toLowerCase() !== "auth") return { ok: false, reason: "bad-qop", user };
      // nc is exactly 8 hex digits (RFC 7616 §3.4); cnonce mandatory with qop.
      if (nc === undefined || cnonce === undefined || !/^[0-9a-fA-F]{8}$/.test(nc)) return { ok: false, reason: "malformed", user };
      qop = "auth";
      ncNum = parseInt(nc, 16);
    } else if (algorithm.endsWith("-sess") && cnonce === undefined) {
      return { ok: false, reason: "malformed", user };
    }
    const ha1 = ha1Lookup(user, algorithm);
    // An unknown user costs the same hashing as a known one: no timing difference tells a
    // guesser which extensions exist (the answer is the same 403 either way).
    const expected = digestResponse({ algorithm, ha1: ha1 ?? this.decoyHa1, nonce, method, uri, qop, nc, cnonce });
    const match = sameHex(expected, response);
    if (ha1 === undefined) return { ok: false, reason: "unknown-user", user };
    if (!match) return { ok: false, reason: "bad-response", user };
    if (age > this.ttl) return { ok: false, reason: "stale-nonce", user };
    if (qop) {
      const id = nonceId(nonce);
      const last = this.ncYoung.get(id) ?? this.ncOld.get(id);
      if (last !== undefined && ncNum <= last) return { ok: false, reason: "replay", user };
      // A nonce in use but no longer tracked cannot be checked for replays: make the client
      // fetch a fresh one, silently (stale=true), rather than accept it blind.
      if (last === undefined && ncNum !== 1) return { ok: false, reason: "stale-nonce", user };
      this.trackNc(id, ncNum);
    }
    return { ok: true, user };
  }

  /** Milliseconds since the nonce was issued, or undefined if it is not one of ours. */
  private nonceAge(nonce: string): number | undefined {
    if (nonce.length !== NONCE_LENGTH) return undefined;
    const stamp = nonce.slice(0, 20);
    if (!sameHex(this.mac(stamp), nonce.slice(20))) return undefined;
    const ts = parseInt(nonce.slice(0, 12), 16);
    if (!Number.isFinite(ts)) return undefined;
    const age = this.clock.now() - ts;
    return age < -FUTURE_SKEW_MS ? undefined : Math.max(0, age);
  }

  private mac(stamp: string): string {
    return createHmac("sha256", this.secret).update(stamp).update(this.realm).digest("hex").slice(0, 32);
  }

  /**
   * The young generation turns old when it holds half the budget, or when it is older than a
   * nonce's lifetime: by the next turn its nonces are all stale, refused before the table is
   * read, so keeping them would only cost memory (at a call rate that never fills the budget,
   * they would otherwise stay until it does).
   */
  private trackNc(id: number, nc: number): void {
    const now = this.clock.now();
    if (now - this.youngSince > this.ttl) {
      this.ncOld = this.ncYoung.size > 0 && now - this.youngSince <= 2 * this.ttl ? this.ncYoung : new Map();
      this.ncYoung = new Map();
      this.youngSince = now;
    }
    this.ncYoung.set(id, nc);
    if (this.ncYoung.size >= this.maxTracked / 2) {
      this.ncOld = this.ncYoung;
      this.ncYoung = new Map();
      this.youngSince = now;
    }
  }

  /** Tracked nonces (for tests and status). */
  trackedNonces(): number {
    return this.ncYoung.size + this.ncOld.size;
  }
}

/**
 * The table's key for a nonce: its counter (hex digits 12–20, see newNonce), unique among the
 * nonces one process issues (2^32 of them), and only ever read for a nonce whose MAC checked.
 * A number, not the nonce text: a substring of the parsed header would keep the whole
 * header (and the datagram text around it) alive for as long as the entry lives.
 */
function nonceId(nonce: string): number {
  return parseInt(nonce.slice(12, 20), 16);
}

/** Constant-time compare of two hex strings, case-insensitive (RFC 7616: LHEX, but be lenient). */
function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a.toLowerCase(), "latin1"), Buffer.from(b.toLowerCase(), "latin1"));
}

export interface DigestAuthorizationInput {
  /** The WWW-Authenticate / Proxy-Authenticate value received. */
  challenge: string;
  method: string;
  /** digest-uri: the Request-URI of the request being sent (RFC 3261 §22.4). */
  uri: string;
  username: string;
  password: string;
  /** Client nonce; random if omitted. */
  cnonce?: string;
  /** Nonce count for this nonce, starting at 1 (RFC 7616 §3.4). */
  nc: number;
}

/**
 * Answers a challenge (RFC 7616 §3.4, RFC 3261 §22.2): the value for an Authorization or
 * Proxy-Authorization header. Picks qop=auth when offered, otherwise the RFC 2069 form.
 * Throws on a challenge it cannot answer (other scheme, unknown algorithm, auth-int only).
 */
export function digestAuthorization(i: DigestAuthorizationInput): string {
  const parsed = parseDigestParams(i.challenge);
  if (!parsed || parsed.scheme.toLowerCase() !== "digest") throw new Error("not a Digest challenge");
  const p = parsed.params;
  const realm = p.get("realm") ?? "";
  const nonce = p.get("nonce");
  if (nonce === undefined) throw new Error("Digest challenge without nonce");
  const algorithm = parseAlgorithm(p.get("algorithm"));
  if (!algorithm) throw new Error(`unsupported Digest algorithm ${p.get("algorithm")}`);
  const qopOffered = p.get("qop");
  let qop: "auth" | undefined;
  if (qopOffered !== undefined) {
    const list = qopOffered.split(",").map((s) => s.trim().toLowerCase());
    if (!list.includes("auth")) throw new Error(`unsupported qop ${qopOffered}`);
    qop = "auth";
  }
  const cnonce = i.cnonce ?? randomBytes(8).toString("hex");
  const nc = (i.nc >>> 0).toString(16).padStart(8, "0");
  const needCnonce = qop !== undefined || algorithm.endsWith("-sess");
  const response = digestResponse({
    algorithm,
    ha1: computeHa1(i.username, realm, i.password, algorithm),
    nonce,
    method: i.method,
    uri: i.uri,
    qop,
    nc,
    cnonce: needCnonce ? cnonce : undefined,
  });
  let v = `Digest username=${quote(i.username)}, realm=${quote(realm)}, nonce=${quote(nonce)}, uri=${quote(i.uri)}, response="${response}"`;
  if (p.has("algorithm")) v += `, algorithm=${algorithm}`;
  if (needCnonce) v += `, cnonce=${quote(cnonce)}`;
  const opaque = p.get("opaque");
  if (opaque !== undefined) v += `, opaque=${quote(opaque)}`;
  if (qop) v += `, qop=auth, nc=${nc}`;
  return v;
}

/**
 * Whether a digest-uri names the resource of `requestUri`: same scheme, user, host (case-
 * insensitive) and port (the scheme's default when absent). Parameters are not compared:
 * phones differ in whether they repeat `;transport=udp`, and they do not change the target.
 */
export function sameResource(digestUri: string, requestUri: SipUri): boolean {
  let d: SipUri;
  try {
    d = parseUri(digestUri);
  } catch {
    return false;
  }
  const port = (u: SipUri) => u.port ?? (u.scheme === "sips" ? 5061 : u.scheme === "sip" ? 5060 : undefined);
  return (
    d.scheme === requestUri.scheme &&
    (d.user ?? "") === (requestUri.user ?? "") &&
    d.host.toLowerCase() === requestUri.host.toLowerCase() &&
    port(d) === port(requestUri)
  );
}
