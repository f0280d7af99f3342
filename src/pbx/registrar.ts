/**
 * The registrar (RFC 3261 §10.3) for the configured extensions: authenticates REGISTER,
 * keeps the bindings (several devices per extension, each identified by its +sip.instance or
 * else by contact URI and source flow: see `bindingKey`), answers with every current contact, persists through BindingsStore and tells the rest of the gateway
 * about changes through typed events.
 *
 * NAT: each binding remembers the address the REGISTER came from; requests to the phone go
 * there rather than to the Contact host (RFC 5626 in spirit, like Asterisk nat=force_rport),
 * because a phone behind a VPN or NAT often puts an address in Contact that we cannot reach.
 *
 * Expiry runs on the injected clock: one coarse sweep every `sweepIntervalMs`, never a timer
 * per binding; `lookup()` filters expired bindings itself, so the sweep's coarseness only
 * delays the `binding-removed` event, never routes a call to a lapsed contact.
 */
import { EventEmitter } from "node:events";
import type { Clock, TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import type { DigestServer } from "../sip/digest.js";
import { addHeader, createResponse, getHeader, getHeaders, newTag, parseCSeq, parseNameAddr, sameEndpoint } from "../sip/message/index.js";
import type { Endpoint, SipRequest, SipResponse } from "../sip/message/types.js";
import { clip } from "../log-value.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { ExtensionAuth, type Extension } from "./auth.js";
import type { Binding, BindingsStore } from "./bindings-store.js";
import type { Lockout } from "./lockout.js";
import { RegisterError, bindingKey, checkOrder, contactUpdate, findBinding, parseDelta, staleOnFlow } from "./registrar-contacts.js";
import { onePerDestination } from "./targets.js";

export type { Binding } from "./bindings-store.js";

export type BindingRemovalReason = "expired" | "unregistered" | "replaced";

export interface RegistrarEvents {
  "binding-added": [binding: Binding];
  "binding-refreshed": [binding: Binding];
  "binding-removed": [binding: Binding, reason: BindingRemovalReason];
  /**
   * The same device (same +sip.instance, or same contact and Call-ID) now registers from
   * another address: its NAT mapping changed. Follows the binding's added/refreshed event.
   * Requests of calls still aimed at `from` should go to `binding.source` from now on.
   */
  "binding-moved": [binding: Binding, from: Endpoint];
}

export interface RegistrarOptions {
  extensions: readonly Extension[];
  /** Must be the DigestServer's realm; kept for clarity in the composition root. */
  realm: string;
  store: BindingsStore;
  clock: Clock;
  /** `pbx.registrar` */
  log: Logger;
  /** Seconds; shorter non-zero requests get 423 (RFC 3261 §10.3 step 6). Default 60. */
  minExpires?: number;
  /** Seconds; longer requests are shortened to this. Default 3600. */
  maxExpires?: number;
  /** Seconds, when the phone names none (RFC 3261 §10.2.1.1 suggests 3600). Default 3600. */
  defaultExpires?: number;
  digest: DigestServer;
  lockout: Lockout;
  /** The B2BUA's authenticator, to share one instance; built from the above if omitted. */
  auth?: ExtensionAuth;
  /** Devices per extension; past it the binding closest to expiry is replaced. Default 10. */
  maxContacts?: number;
  /** Default 10 s. */
  sweepIntervalMs?: number;
}

export class Registrar extends EventEmitter<RegistrarEvents> {
  readonly auth: ExtensionAuth;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** For lines one REGISTER can cause. */
  private readonly refusedLog: RateLimitedLog;
  private readonly store: BindingsStore;
  private readonly minExpires: number;
  private readonly maxExpires: number;
  private readonly defaultExpires: number;
  private readonly maxContacts: number;
  private readonly sweepMs: number;
  /** extension → bindingKey → binding */
  private readonly bindings = new Map<string, Map<string, Binding>>();
  private readonly snapshot = (): Binding[] => this.all();
  private sweepTimer: TimerHandle | undefined;
  private dateSecond = -1;
  private dateValue = "";

  constructor(opts: RegistrarOptions) {
    super();
    if (opts.realm !== opts.digest.realm) throw new Error(`registrar realm "${opts.realm}" differs from the digest realm "${opts.digest.realm}"`);
    this.clock = opts.clock;
    this.log = opts.log;
    this.refusedLog = new RateLimitedLog(opts.log, 5, () => opts.clock.now());
    this.store = opts.store;
    this.minExpires = opts.minExpires ?? 60;
    this.maxExpires = opts.maxExpires ?? 3600;
    this.defaultExpires = opts.defaultExpires ?? 3600;
    this.maxContacts = opts.maxContacts ?? 10;
    this.sweepMs = opts.sweepIntervalMs ?? 10_000;
    this.auth = opts.auth ?? new ExtensionAuth({ extensions: opts.extensions, digest: opts.digest, lockout: opts.lockout, log: opts.log, clock: opts.clock });
    // Oldest first, so that where two saved bindings are one device the fresher one stays.
    for (const b of this.store.load().sort((x, y) => x.expiresAt - y.expiresAt)) {
      if (!this.auth.has(b.aor)) continue; // an extension removed from the config since
      this.restore(b);
    }
    this.scheduleSweep();
  }

  /**
   * Answers one REGISTER (RFC 3261 §10.3). Synchronous; the caller sends the response
   * through the server transaction, which also absorbs retransmissions.
   */
  handleRegister(req: SipRequest, source: Endpoint): SipResponse {
    let aor: string | undefined;
    try {
      const to = getHeader(req, "to");
      if (to === undefined) return this.reply(req, 400, "Missing To");
      aor = parseNameAddr(to).uri.user;
    } catch {
      return this.reply(req, 400, "Bad To");
    }
    // Step 3 first: authenticate before saying whether an extension exists, so nobody can
    // probe which numbers are configured (Asterisk's alwaysauthreject). Step 4: the
    // authenticated user may only register itself; step 5 is then implied.
    const auth = this.auth.authenticateRequest(req, { proxy: false, source });
    if (!auth.ok) return auth.response;
    // Another extension, configured or not, gets the same 403: a 404 for missing ones would
    // let any authenticated phone list the extensions.
    if (aor === undefined || auth.user !== aor) {
      this.refusedLog.warn({ user: auth.user, aor: clip(aor), source: `${source.address}:${source.port}` }, "REGISTER for another extension refused");
      return this.reply(req, 403, "Forbidden");
    }
    try {
      return this.update(req, aor, source);
    } catch (e) {
      if (e instanceof RegisterError) {
        const res = this.reply(req, e.status, e.reason);
        if (e.status === 423) addHeader(res, "min-expires", String(this.minExpires));
        return res;
      }
      this.refusedLog.debug({ reason: clip((e as Error)?.message) }, "unparsable REGISTER");
      return this.reply(req, 400, "Bad Request");
    }
  }

  /**
   * The live bindings of an extension as places to ring: the preferred one of each
   * destination only (`onePerDestination`), soonest-expiring last; empty when none.
   * `all()` has every binding.
   */
  lookup(number: string): Binding[] {
    const m = this.bindings.get(number);
    if (!m) return [];
    const now = this.clock.now();
    const out: Binding[] = [];
    for (const b of m.values()) if (b.expiresAt > now) out.push(b);
    // Preference order (RFC 3261 §16.6 q-value), then the freshest registration first.
    return onePerDestination(out.sort((a, b) => (b.q ?? 1) - (a.q ?? 1) || b.expiresAt - a.expiresAt));
  }

  /** Every binding held (including any not yet swept). */
  all(): Binding[] {
    const out: Binding[] = [];
    for (const m of this.bindings.values()) for (const b of m.values()) out.push(b);
    return out;
  }

  /** Removes lapsed bindings now; normally run by the coarse timer. */
  sweep(): void {
    const now = this.clock.now();
    let changed = false;
    for (const [aor, m] of this.bindings) {
      for (const [key, b] of m) {
        if (b.expiresAt > now) continue;
        m.delete(key);
        changed = true;
        this.log.info({ extension: aor, contact: clip(b.contact) }, "binding expired");
        this.notify("binding-removed", b, "expired");
      }
      if (m.size === 0) this.bindings.delete(aor);
    }
    if (changed) this.store.changed(this.snapshot);
  }

  /** Stops the sweep and writes the bindings out. */
  async close(): Promise<void> {
    this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.store.changed(this.snapshot);
    await this.store.close();
  }

  /**
   * One saved binding back in place. Files written before bindings were told apart by flow
   * (same format, keyed by contact only) can hold a phone twice on one flow under two
   * Call-IDs, from before and after it restarted: the same rule as for a live REGISTER
   * (`staleOnFlow`) keeps only the later one.
   */
  private restore(b: Binding): void {
    const m = this.bindings.get(b.aor);
    if (m) {
      const as = { callId: b.callId, source: b.source, path: b.path, updates: [{ key: b.contact, expires: 1, instance: b.instance }], matches: [] };
      for (const old of staleOnFlow(m.values(), as)) this.remove(b.aor, old, "replaced");
    }
    this.put(b.aor, b);
  }

  private scheduleSweep(): void {
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweep();
      this.scheduleSweep();
    }, this.sweepMs);
  }

  /** Steps 6–8 of RFC 3261 §10.3, for an authenticated REGISTER. */
  private update(req: SipRequest, aor: string, source: Endpoint): SipResponse {
    const callId = getHeader(req, "call-id");
    const cseqValue = getHeader(req, "cseq");
    if (callId === undefined || cseqValue === undefined) throw new RegisterError(400, "Missing Call-ID or CSeq");
    const seq = parseCSeq(cseqValue).seq;
    const expiresHeader = parseDelta(getHeader(req, "expires"));
    const values = getHeaders(req, "contact");
    const now = this.clock.now();
    const existing = this.bindings.get(aor);

    // Step 6: "*" removes every binding, but only alone and with Expires: 0.
    if (values.some((v) => v.trim() === "*")) {
      if (values.length !== 1 || expiresHeader !== 0) throw new RegisterError(400, "Invalid Contact *");
      if (existing) {
        for (const b of existing.values()) checkOrder(b, callId, seq);
        for (const b of existing.values()) this.remove(aor, b, "unregistered");
      }
      return this.ok(req, aor, now);
    }

    const limits = { min: this.minExpires, max: this.maxExpires, default: this.defaultExpires };
    const updates = values.map((v) => contactUpdate(v, expiresHeader, limits));
    const matches = updates.map((u) => (existing ? findBinding(existing.values(), u, callId, source) : undefined));
    // Step 7: Call-ID/CSeq ordering, checked for all contacts before changing any, because a
    // failure "MUST abort the update" of the whole request.
    for (const old of matches) if (old) checkOrder(old, callId, seq);
    const userAgent = getHeader(req, "user-agent");
    const path = getHeaders(req, "path");
    if (existing) {
      for (const old of staleOnFlow(existing.values(), { callId, source, path, updates, matches })) this.remove(aor, old, "replaced");
    }
    updates.forEach((u, i) => {
      const old = matches[i];
      if (u.expires === 0) {
        if (old) this.remove(aor, old, "unregistered");
        return;
      }
      const b: Binding = {
        aor,
        contact: u.key,
        source: { address: source.address, port: source.port },
        path,
        userAgent,
        callId,
        cseq: seq,
        expiresAt: now + u.expires * 1000,
        q: u.q,
        instance: u.instance,
      };
      const moved = old !== undefined && !sameEndpoint(old.source, b.source);
      if (old && old.contact === b.contact) {
        this.put(aor, b, old);
        this.log.debug({ extension: aor, contact: clip(b.contact), expires: u.expires }, "binding refreshed");
        this.notify("binding-refreshed", b);
      } else {
        // The same device (+sip.instance, RFC 5626 §6) under a new contact replaces its old binding.
        if (old) this.remove(aor, old, "replaced");
        this.makeRoom(aor);
        this.put(aor, b);
        this.log.info(
          { extension: aor, contact: clip(b.contact), source: `${source.address}:${source.port}`, user_agent: clip(userAgent), expires: u.expires },
          "binding added",
        );
        this.notify("binding-added", b);
      }
      if (moved) {
        this.log.info({ extension: aor, contact: clip(b.contact), from: `${old.source.address}:${old.source.port}`, to: `${source.address}:${source.port}` }, "binding moved");
        this.notify("binding-moved", b, old.source);
      }
    });
    if (updates.length > 0) this.store.changed(this.snapshot);
    return this.ok(req, aor, now);
  }

  /** Before adding a binding: past maxContacts the one closest to expiry goes. */
  private makeRoom(aor: string): void {
    const m = this.bindings.get(aor);
    if (!m) return;
    for (let guard = 0; m.size >= this.maxContacts && guard < this.maxContacts; guard++) {
      let victim: Binding | undefined;
      for (const x of m.values()) if (!victim || x.expiresAt < victim.expiresAt) victim = x;
      if (victim) this.remove(aor, victim, "replaced");
    }
  }

  /**
   * The extensions changed while running: authentication follows the new list, and the
   * bindings of extensions no longer in it go at once (a removed phone must stop ringing).
   */
  extensionsChanged(extensions: readonly Extension[]): void {
    this.auth.setExtensions(extensions);
    for (const [aor, m] of [...this.bindings]) {
      if (this.auth.has(aor)) continue;
      for (const b of [...m.values()]) this.remove(aor, b, "unregistered");
    }
  }

  /** Stores `b`, in place of `old` when it updates that one (its key may differ: a new flow). */
  private put(aor: string, b: Binding, old?: Binding): void {
    const m = this.aorMap(aor);
    if (old && m.get(bindingKey(old)) === old) m.delete(bindingKey(old));
    const key = bindingKey(b);
    const occupant = m.get(key);
    // Another binding under the same key is the same device and flow: `b` supersedes it.
    if (occupant !== undefined && occupant !== old) this.remove(aor, occupant, "replaced");
    m.set(key, b);
  }

  private remove(aor: string, b: Binding, reason: BindingRemovalReason): void {
    const m = this.bindings.get(aor);
    const key = bindingKey(b);
    if (!m || m.get(key) !== b) return;
    m.delete(key);
    if (m.size === 0) this.bindings.delete(aor);
    this.log.info({ extension: aor, contact: clip(b.contact), reason }, "binding removed");
    this.notify("binding-removed", b, reason);
    this.store.changed(this.snapshot);
  }

  /**
   * Emits without letting a listener's throw escape into the SIP stack (the zigbee2mqtt
   * EventBus habit): a broken MQTT publisher must not fail a REGISTER half-applied.
   */
  private notify<K extends keyof RegistrarEvents>(event: K, ...args: RegistrarEvents[K]): void {
    for (const listener of this.listeners(event)) {
      try {
        (listener as (...a: RegistrarEvents[K]) => void)(...args);
      } catch (err) {
        this.log.error({ err, event }, "binding listener failed");
      }
    }
  }

  private aorMap(aor: string): Map<string, Binding> {
    let m = this.bindings.get(aor);
    if (!m) this.bindings.set(aor, (m = new Map()));
    return m;
  }

  /** Step 8: 200 OK with every current binding and its remaining time, plus Date (§10.3, §20.17). */
  private ok(req: SipRequest, aor: string, now: number): SipResponse {
    const res = this.reply(req, 200, "OK");
    const m = this.bindings.get(aor);
    if (m) {
      for (const b of m.values()) {
        if (b.expiresAt <= now) continue;
        const left = Math.ceil((b.expiresAt - now) / 1000);
        addHeader(res, "contact", `<${b.contact}>;expires=${left}${b.q !== undefined ? `;q=${b.q}` : ""}`);
      }
    }
    addHeader(res, "date", this.date(now));
    return res;
  }

  private reply(req: SipRequest, status: number, reason: string): SipResponse {
    // §8.2.6.2: a UAS adds a To tag to its final responses when the request had none
    // (createResponse adds it only then; a tag= inside the To URI is no tag).
    return createResponse(req, status, reason, { toTag: newTag() });
  }

  /** rfc1123-date (RFC 3261 §20.17), formatted once per second. */
  private date(now: number): string {
    const s = Math.floor(now / 1000);
    if (s !== this.dateSecond) {
      this.dateSecond = s;
      this.dateValue = new Date(s * 1000).toUTCString();
    }
    return this.dateValue;
  }
}
