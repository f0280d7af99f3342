/**
 * Digest authentication of requests from the extensions (RFC 3261 §22): one code path for
 * the registrar (REGISTER, 401 + WWW-Authenticate, §22.2) and the B2BUA (INVITE, BYE, …,
 * 407 + Proxy-Authenticate, §22.3), sharing one DigestServer (nonces, nonce-counts), one
 * Lockout and the extensions' passwords.
 *
 * Answers: no or unusable credentials → challenge; stale nonce → challenge with stale=true
 * (RFC 7616 §3.3); wrong password with a valid nonce → 403 (the issue asks for 403 rather
 * than the RFC's repeated 401, so a phone with a wrong password stops instead of looping);
 * locked out → 403 before any verification; malformed credentials (a parameter given twice
 * among them) → 400, never a success.
 *
 * The credentials are parsed once (`parseAuthParams`) and the same parsed value gives the
 * username for the lockout and the parameters for verification: two readers of one header
 * once disagreed (a decoy `username=` first), which let a guesser bypass a lock.
 *
 * Every line logged here can be caused by one datagram: rate-limited, values clipped.
 */
import { systemClock, type Clock } from "../clock.js";
import type { Logger } from "../log.js";
import { clip } from "../log-value.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { computeHa1, type DigestAlgorithm, type DigestServer } from "../sip/digest.js";
import { addHeader, createResponse, getHeaders, newTag, parseAuthParams, type AuthParams } from "../sip/message/index.js";
import type { Endpoint, SipRequest, SipResponse } from "../sip/message/types.js";
import type { Lockout } from "./lockout.js";

/** An extension as configured (`extensions:` in the config). */
export interface Extension {
  number: string;
  password: string;
  name?: string;
}

export type AuthResult = { ok: true; user: string } | { ok: false; response: SipResponse };

export interface ExtensionAuthOptions {
  extensions: readonly Extension[];
  digest: DigestServer;
  lockout: Lockout;
  /** `pbx.auth` */
  log: Logger;
  /** Only for rate-limiting log lines. Default: the system clock. */
  clock?: Clock;
}

export interface AuthenticateOptions {
  /** true: 407 + Proxy-Authenticate / Proxy-Authorization (B2BUA); false: 401 + WWW-Authenticate (registrar). */
  proxy: boolean;
  /** Where the request came from: lockout is per source address too, and logs name it. */
  source: Endpoint;
}

export class ExtensionAuth {
  readonly digest: DigestServer;
  private readonly lockout: Lockout;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly passwords = new Map<string, string>();
  /** HA1 per "algorithm user", computed once: hashing the password per request is waste. */
  private readonly ha1Cache = new Map<string, string>();
  private readonly lookup = (user: string, alg: DigestAlgorithm): string | undefined => {
    const key = alg + " " + user;
    let ha1 = this.ha1Cache.get(key);
    if (ha1 === undefined) {
      const pw = this.passwords.get(user);
      if (pw === undefined) return undefined;
      ha1 = computeHa1(user, this.digest.realm, pw, alg);
      this.ha1Cache.set(key, ha1);
    }
    return ha1;
  };
  private readonly refusedLog: RateLimitedLog;
  private readonly failedLog: RateLimitedLog;

  constructor(opts: ExtensionAuthOptions) {
    this.digest = opts.digest;
    this.lockout = opts.lockout;
    this.log = opts.log;
    this.clock = opts.clock ?? systemClock;
    const now = () => this.clock.now();
    // A locked-out guesser must not fill the journal: one line a second about refusals.
    this.refusedLog = new RateLimitedLog(this.log, 1, now);
    this.failedLog = new RateLimitedLog(this.log, 5, now);
    for (const e of opts.extensions) this.passwords.set(e.number, e.password);
  }

  /**
   * The extensions changed (a phone added or removed while running): new passwords take
   * effect at the next request; a removed extension fails like an unknown one from now on.
   */
  setExtensions(extensions: readonly Extension[]): void {
    this.passwords.clear();
    this.ha1Cache.clear();
    for (const e of extensions) this.passwords.set(e.number, e.password);
  }

  /** Whether `number` is a configured extension. */
  has(number: string): boolean {
    return this.passwords.has(number);
  }

  /**
   * Authenticates `req`. On failure the response to send is ready (challenge, 403 or 400),
   * with a To tag when the request had none (RFC 3261 §8.2.6.2).
   */
  authenticateRequest(req: SipRequest, opts: AuthenticateOptions): AuthResult {
    const picked = this.pickCredentials(req, opts.proxy);
    if (picked === undefined) return this.challenge(req, opts.proxy, false);
    const source = `${opts.source.address}:${opts.source.port}`;
    if (picked === "malformed") {
      this.failedLog.info({ source, method: req.method }, "malformed credentials");
      return this.fail(req, 400, "Bad Request");
    }
    const claimed = picked.params.get("username");
    // Refuse before verifying: a locked-out guesser gets no oracle (and costs no hashing).
    if (claimed !== undefined && picked.scheme.toLowerCase() === "digest") {
      const lock = this.lockout.check(claimed, opts.source.address);
      if (lock.locked) {
        this.refusedLog.warn({ user: clip(claimed), source, locked_by: lock.by }, "refused: locked out");
        return this.fail(req, 403, "Forbidden");
      }
    }
    const v = this.digest.verify(picked, req.method, this.lookup, req.uri);
    if (v.ok) {
      this.lockout.recordSuccess(v.user, opts.source.address);
      return v;
    }
    switch (v.reason) {
      case "stale-nonce":
        return this.challenge(req, opts.proxy, true);
      case "bad-response":
      case "unknown-user":
        // Guessing: counts towards the lock of this (address, extension) pair.
        this.lockout.recordFailure(v.user ?? "", opts.source.address);
        this.failedLog.info({ user: clip(v.user), source, method: req.method, reason: v.reason }, "authentication failed");
        return this.fail(req, 403, "Forbidden");
      case "malformed":
        this.failedLog.info({ user: clip(v.user), source, method: req.method }, "malformed credentials");
        return this.fail(req, 400, "Bad Request");
      case "uri-mismatch":
        this.failedLog.info({ user: clip(v.user), source, method: req.method, uri: clip(picked.params.get("uri")) }, "digest uri does not match the Request-URI");
        return this.fail(req, 400, "Bad Request");
      default:
        // no-credentials, bad-nonce (e.g. one from before a restart), realm-mismatch,
        // bad-algorithm, bad-qop, replay: a fresh challenge says what we accept.
        return this.challenge(req, opts.proxy, false);
    }
  }

  /** The response that carries a fresh challenge (401 or 407). */
  challenge(req: SipRequest, proxy: boolean, stale: boolean): AuthResult {
    const res = this.response(req, proxy ? 407 : 401, proxy ? "Proxy Authentication Required" : "Unauthorized");
    addHeader(res, proxy ? "proxy-authenticate" : "www-authenticate", this.digest.challenge({ proxy, stale }));
    return { ok: false, response: res };
  }

  private fail(req: SipRequest, status: number, reason: string): AuthResult {
    return { ok: false, response: this.response(req, status, reason) };
  }

  private response(req: SipRequest, status: number, reason: string): SipResponse {
    // §8.2.6.2: a UAS adds a To tag to its final responses when the request had none
    // (createResponse adds it only then; a tag= inside the To URI is no tag).
    return createResponse(req, status, reason, { toTag: newTag() });
  }

  /**
   * The credentials meant for us, parsed: a request may carry several Authorization headers,
   * one per realm on its path (RFC 3261 §22.3); take the one naming our realm, else the
   * first. "malformed" when any of them does not parse (or repeats a parameter).
   */
  private pickCredentials(req: SipRequest, proxy: boolean): AuthParams | "malformed" | undefined {
    const values = getHeaders(req, proxy ? "proxy-authorization" : "authorization");
    if (values.length === 0) return undefined;
    const parsed: AuthParams[] = [];
    for (const v of values) {
      try {
        parsed.push(parseAuthParams(v));
      } catch {
        return "malformed";
      }
    }
    return parsed.find((p) => p.params.get("realm") === this.digest.realm) ?? parsed[0];
  }
}
