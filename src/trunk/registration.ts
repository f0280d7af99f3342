/**
 * The line's registration (docs/ngn.md "Registration"): `REGISTER sip:<domain>` over UDP from
 * the lease address port 5060 to the option-120 server, From/To the main number at the
 * domain, Contact the lease address, no rport, no digest unless challenged (then answered,
 * so an ordinary SIP provider configured by hand works too). Refreshed at `refreshRatio` of
 * the granted expiry; failures back off exponentially (capped, Retry-After honoured up to
 * MAX_RETRY_AFTER_MS). A failed refresh leaves a still-valid registration `registered` (with
 * lastError) and retries before it runs out; only once it has expired is the state `failed`.
 * Never OPTIONS: REGISTER refreshes are the keep-alive.
 */
import { EventEmitter } from "node:events";
import type { Clock, TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import type { Endpoint, SipResponse } from "../sip/message/types.js";
import { contacts, createRequest, getHeader, newCallId, newTag } from "../sip/message/index.js";
import { digestAuthorization } from "../sip/digest.js";
import type { TransactionLayer } from "../sip/transaction/layer.js";

export type RegistrationState = "disabled" | "acquiring" | "registering" | "registered" | "failed";

export interface RegistrationTarget {
  server: Endpoint;
  domain: string;
  number: string;
  /** Our address on the WAN side (Contact). */
  localAddress: string;
  localPort: number;
  /** Digest credentials, for providers that challenge (the NGN does not). */
  user?: string;
  password?: string;
}

export interface RegistrationOptions {
  tx: TransactionLayer;
  clock: Clock;
  log: Logger;
  expires: number;
  refreshRatio: number;
  /** First retry delay after a failure, ms (doubles up to maxBackoffMs). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** A Retry-After longer than this is not believed (RFC 3261 §20.33 sets no bound; a typo could park the line for days). */
export const MAX_RETRY_AFTER_MS = 600_000;
/** How long an unregister (Expires: 0) may take at shutdown. */
const UNREGISTER_WAIT_MS = 1_500;

export interface RegistrationEvents {
  state: [state: RegistrationState, detail: { expiresAt?: number; lastError?: string }];
}

export class TrunkRegistration extends EventEmitter<RegistrationEvents> {
  state: RegistrationState = "acquiring";
  lastError?: string;
  expiresAt?: number;
  private target?: RegistrationTarget;
  private readonly callId = newCallId();
  private readonly fromTag = newTag();
  private cseq = 0;
  private timer?: TimerHandle;
  /** Fires when the current registration runs out without a successful refresh. */
  private expiryTimer?: TimerHandle;
  private failures = 0;
  private generation = 0;
  private stopped = false;

  constructor(private readonly opts: RegistrationOptions) {
    super();
  }

  /** (Re)register now with these parameters (a new or changed lease). */
  start(target: RegistrationTarget): void {
    this.target = target;
    this.stopped = false;
    this.failures = 0;
    this.register(this.opts.expires);
  }

  /** The lease is gone: stop refreshing (nothing can be sent without an address). */
  lost(reason: string): void {
    this.generation++;
    this.clearTimers();
    this.expiresAt = undefined;
    this.set("acquiring", reason);
  }

  /**
   * Stop for good without a word to the server (the lease changed: the old address may be
   * gone): every timer cleared, late answers ignored. Its state stays for stop() to read.
   */
  dispose(): void {
    this.stopped = true;
    this.generation++;
    this.clearTimers();
  }

  /** Unregister (Expires: 0) and stop; resolves when answered or after a short wait. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    if (this.state !== "registered" || !this.target) return;
    await new Promise<void>((resolve) => {
      const clock = this.opts.clock;
      const t = clock.setTimeout(resolve, UNREGISTER_WAIT_MS);
      this.send(0, () => {
        clock.clearTimeout(t);
        resolve();
      });
    });
    this.expiresAt = undefined;
    this.set("disabled");
  }

  private clearTimers(): void {
    this.opts.clock.clearTimeout(this.timer);
    this.opts.clock.clearTimeout(this.expiryTimer);
    this.timer = undefined;
    this.expiryTimer = undefined;
  }

  private register(expires: number): void {
    this.set(this.state === "registered" ? "registered" : "registering");
    this.send(expires);
  }

  private send(expires: number, done?: () => void, authorization?: string): void {
    const t = this.target!;
    const gen = ++this.generation;
    const req = createRequest({
      method: "REGISTER",
      uri: `sip:${t.domain}`,
      from: `<sip:${t.number}@${t.domain}>;tag=${this.fromTag}`,
      to: `<sip:${t.number}@${t.domain}>`,
      callId: this.callId,
      cseq: ++this.cseq,
      contact: `<sip:${t.number}@${t.localAddress}:${t.localPort}>`,
      headers: [
        { name: "expires", value: String(expires) },
        { name: "allow", value: "INVITE, ACK, BYE, CANCEL, PRACK, UPDATE" },
        ...(authorization ? [{ name: authorization.startsWith("Proxy:") ? "proxy-authorization" : "authorization", value: authorization.replace(/^Proxy:/, "") }] : []),
      ],
    });
    this.opts.tx.sendRequest(req, t.server, {
      onResponse: (res) => {
        if (res.status < 200) return;
        if (gen !== this.generation && !done) return; // superseded by a newer attempt, or disposed
        if (done) return done();
        this.onFinal(res, expires, !!authorization);
      },
      onTimeout: () => (done ? done() : gen === this.generation && this.failed("no answer from the SIP server (timeout)")),
      onTransportError: (_tx, err) => (done ? done() : gen === this.generation && this.failed(`cannot send to the SIP server: ${err.message}`)),
    });
  }

  private onFinal(res: SipResponse, expires: number, authorized: boolean): void {
    const t = this.target!;
    if (res.status >= 200 && res.status < 300) {
      const granted = this.grantedExpires(res, expires);
      this.failures = 0;
      this.expiresAt = this.opts.clock.now() + granted * 1000;
      this.lastError = undefined;
      // Emitted on every refresh, state change or not: status and MQTT show the new expires_at.
      this.set("registered", undefined, true);
      this.opts.log.info({ expires: granted, server: `${t.server.address}:${t.server.port}`, number: t.number }, "trunk registered");
      this.schedule(Math.max(1, granted * this.opts.refreshRatio) * 1000, () => this.register(this.opts.expires));
      this.opts.clock.clearTimeout(this.expiryTimer);
      this.expiryTimer = this.opts.clock.setTimeout(() => this.expired(), granted * 1000);
      return;
    }
    if ((res.status === 401 || res.status === 407) && !authorized && t.user && t.password) {
      const challenge = getHeader(res, res.status === 401 ? "www-authenticate" : "proxy-authenticate");
      if (challenge) {
        const auth = digestAuthorization({ challenge, method: "REGISTER", uri: `sip:${t.domain}`, username: t.user, password: t.password, nc: 1 });
        this.send(expires, undefined, (res.status === 407 ? "Proxy:" : "") + auth);
        return;
      }
    }
    if (res.status === 423) {
      const min = Number(getHeader(res, "min-expires"));
      if (Number.isFinite(min) && min > expires && min < 86400) return this.send(min);
    }
    const hint = res.status === 401 || res.status === 403 ? " (the NGN refuses: check the DHCP side — MAC, option 124 — and that the home gateway's phone function is off)" : "";
    const retryAfter = Number(getHeader(res, "retry-after")?.split(/[;\s]/)[0]);
    this.failed(`${res.status} ${res.reason}${hint}`, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
  }

  /** §10.2.4: the expiry the registrar granted our Contact. */
  private grantedExpires(res: SipResponse, requested: number): number {
    const t = this.target!;
    for (const c of contacts(res)) {
      if (c === "*") continue;
      if (c.uri.host === t.localAddress && (c.uri.port ?? 5060) === t.localPort) {
        const e = Number(c.params.get("expires"));
        if (Number.isFinite(e) && e > 0) return e;
      }
    }
    const h = Number(getHeader(res, "expires"));
    return Number.isFinite(h) && h > 0 ? h : requested;
  }

  /**
   * A register attempt failed. While the current registration is still valid the line keeps
   * working (§10.2.1: the binding lasts until its expiry), so the state stays `registered`
   * with lastError set and the retry comes before the expiry; only an expired registration
   * (or none) is `failed`.
   */
  private failed(error: string, retryAfterMs?: number): void {
    if (this.stopped) return;
    this.failures++;
    this.lastError = error;
    const now = this.opts.clock.now();
    const min = this.opts.minBackoffMs ?? 5_000;
    const max = this.opts.maxBackoffMs ?? 300_000;
    let backoff = retryAfterMs !== undefined ? Math.min(retryAfterMs, MAX_RETRY_AFTER_MS) : Math.min(max, min * 2 ** Math.min(this.failures - 1, 16));
    const valid = this.state === "registered" && this.expiresAt !== undefined && this.expiresAt > now;
    if (valid) {
      // Retry while there is still time for a transaction (64*T1) before the expiry.
      const latest = this.expiresAt! - now - Math.min(32_000, (this.expiresAt! - now) / 2);
      backoff = Math.max(1_000, Math.min(backoff, latest));
      this.set("registered", error);
    } else {
      this.expiresAt = undefined;
      this.set("failed", error);
    }
    this.opts.log.warn({ error, retry_in_s: Math.round(backoff / 1000), failures: this.failures, still_registered: valid }, "trunk registration failed");
    this.schedule(backoff, () => this.register(this.opts.expires));
  }

  /** The registration ran out without a successful refresh: the line can no longer take calls. */
  private expired(): void {
    this.expiryTimer = undefined;
    if (this.stopped || this.state !== "registered") return;
    this.expiresAt = undefined;
    this.set("failed", `registration expired${this.lastError ? ` (${this.lastError})` : ""}`);
  }

  private schedule(ms: number, fn: () => void): void {
    this.opts.clock.clearTimeout(this.timer);
    this.timer = this.opts.clock.setTimeout(() => {
      if (!this.stopped) fn();
    }, ms);
  }

  private set(state: RegistrationState, lastError?: string, force = false): void {
    const changed = force || state !== this.state || lastError !== undefined;
    this.state = state;
    if (lastError !== undefined) this.lastError = lastError;
    if (changed) this.emit("state", state, { expiresAt: this.expiresAt, lastError: this.lastError });
  }
}
