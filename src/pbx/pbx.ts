/**
 * The PBX: the transaction user on the LAN side. It dispatches each new request — REGISTER
 * to the registrar, INVITE through authentication and the dialplan to a new Call,
 * in-dialog requests to the call that owns the dialog — and answers what it does not serve.
 */
import type { Clock, TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import type { CallDirection, CallEvent } from "../events.js";
import type { Endpoint, SipRequest } from "../sip/message/types.js";
import { createResponse, getHeader, maxForwards, sameEndpoint, tagOf, validateRequest, fromAddr } from "../sip/message/index.js";
import { dialogKey } from "../sip/dialog/dialog.js";
import type { ServerTransaction, TransactionLayer } from "../sip/transaction/layer.js";
import type { Binding } from "./bindings-store.js";
import type { Registrar } from "./registrar.js";
import type { Dialplan } from "./dialplan.js";
import type { ExtensionAuth } from "./auth.js";
import { Call, type CallFailure, type CallHost, type CallParty, type CallTarget, type Leg, type SipSide } from "./call.js";
import type { CallMediaFactory } from "./call-media.js";
import { bindingTarget } from "./targets.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { DEFAULT_RETRY_AFTER_S, overloadResponse } from "../sip/transaction/overload.js";
import { answerLingering, type LingeringDialog } from "./call-linger.js";
import { DEFAULT_PREMIUM_PREFIXES, type TollPolicy } from "./toll.js";
import { answerOutOfDialog, badExtension, reply, unsupportedRequire } from "./out-of-dialog.js";
import { CallRefusals } from "./call-refusal.js";
import { routeDialled, type Routed } from "./call-route.js";
import { Originate, type OriginateHost } from "./originate.js";
import { OriginatedInvite, callerInvite } from "./originated-invite.js";
import type { ActiveCall } from "../events.js";
import type { BLeg } from "./call-types.js";
import type { CallMedia } from "./call-media.js";
import { newCallId } from "../sip/message/index.js";
import { flatString } from "../flat-string.js";

export { ALLOW } from "./out-of-dialog.js";

/** Where the trunk plugs in: outbound calls the dialplan sends to it. */
export interface TrunkPort {
  /** Targets for an outbound call, or a failure to give the phone. */
  outboundTarget(dialled: string, caller: string): CallTarget | { status: number; reason: string; why?: string };
}

export interface PbxOptions {
  tx: TransactionLayer;
  registrar: Registrar;
  auth: ExtensionAuth;
  dialplan: Dialplan;
  media: CallMediaFactory;
  extensions: { number: string; name?: string }[];
  clock: Clock;
  log: Logger;
  /** Host and port in our Contact/From toward phones. */
  localHost: string;
  localPort: number;
  ringTimeoutMs: number;
  /** REFER between extensions (pbx.allow_transfer); never on calls with a trunk leg. Default false. */
  allowTransfer?: boolean;
  /** Toll-fraud limits (pbx.max_calls…, pbx.max_call_s, international/premium numbers). */
  limits?: Partial<CallLimits>;
  trunk?: TrunkPort;
  onCallEvent?: (ev: CallEvent) => void;
  userAgent?: string;
  /** Dialogs (live and lingering) kept at most; past it a new call gets 503 + Retry-After (limits.dialogs). */
  maxDialogs?: number;
  /** Retry-After of that 503, seconds (limits.retry_after_s). */
  retryAfterS?: number;
}

/** Default dialog bound: a live call's dialogs are a few KB, a lingering one's a few hundred bytes. */
export const DEFAULT_MAX_DIALOGS = 50_000;
export interface CallLimits extends TollPolicy {
  /** Calls one extension may have going at once (it placed them); beyond: 486. */
  perExtension: number;
  /** Calls phones may have going at once in all; beyond: 503. */
  total: number;
  /** A call is hung up (BYE both sides) this long after it started; 0 = no limit. */
  maxCallMs: number;
}

export const DEFAULT_LIMITS: CallLimits = {
  perExtension: 4,
  total: 16,
  maxCallMs: 4 * 3600_000,
  allowInternational: false,
  premiumPrefixes: DEFAULT_PREMIUM_PREFIXES,
};

/** How long a finished call's dialogs stay filed for late retransmissions (64*T1). */
const LINGER_MS = 32_000;
/** Ended calls' dialog keys are swept in batches, one per this many ms (one timer per batch, not per call). */
const LINGER_BATCH_MS = 100;

/** The record of an ended call's dialogs (shared: it holds nothing of the call). */
const ENDED: LingeringDialog = Object.freeze({ lingering: true as const });

/** A call admitted but still waiting for its media (startCall before the Call exists). */
interface Admission {
  readonly sides: ReadonlySet<SipSide>;
  /** The extension that placed it (calls from phones), for the per-extension limit. */
  readonly owner: string | undefined;
  /** Set when hangupOn()/close() refused it while it waited: answered already, drop the media. */
  aborted: boolean;
  abort(reason: string): void;
}

export class Pbx {
  private readonly log: Logger;
  private readonly refusals: CallRefusals;
  /**
   * Every live call's dialogs, by dialog key: the leg, and the call routing its requests;
   * an ended call's keys map to one small record of it until the linger is over.
   */
  private readonly dialogs = new Map<string, { leg: Leg; call: Call } | LingeringDialog>();
  readonly calls = new Set<Call>();
  /** The sides each live call has legs on (its caller's and every target's). */
  private readonly sidesOf = new Map<Call, ReadonlySet<SipSide>>();
  private readonly admitting = new Set<Admission>();
  /** Click-to-dial calls still ringing their extension (originate.ts); a Call once it answers. */
  private readonly originating = new Set<Originate>();
  private readonly names = new Map<string, string | undefined>();
  private readonly limits: CallLimits;
  /** Per live call placed by a phone: the extension, and its maximum-length timer. */
  private readonly owned = new Map<Call, { owner: string | undefined; maxLength: TimerHandle | undefined }>();
  private readonly host: CallHost;
  private readonly originateHost: OriginateHost;
  readonly lan: SipSide;
  private closed = false;
  private readonly overloadLog: RateLimitedLog;
  /** The batch of lingering dialog keys being filled (see linger()). */
  private lingerBatch: { readonly tick: number; readonly keys: string[] } | undefined;
  /** Calls refused because the dialog table was full (status). */
  refusedOverload = 0;

  /** The extensions changed while running (see Registrar.extensionsChanged): names follow. */
  extensionsChanged(extensions: readonly { number: string; name?: string }[]): void {
    this.names.clear();
    for (const e of extensions) this.names.set(e.number, e.name);
  }

  constructor(private readonly opts: PbxOptions) {
    this.log = opts.log;
    this.refusals = new CallRefusals(opts.log, () => opts.clock.now());
    this.overloadLog = new RateLimitedLog(opts.log, 1, () => opts.clock.now());
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    for (const e of opts.extensions) this.names.set(e.number, e.name);
    const dialogs = this.dialogs;
    this.lan = { name: "lan", tx: opts.tx, host: opts.localHost, port: opts.localPort, transfers: opts.allowTransfer ?? false };
    this.host = {
      lan: this.lan,
      clock: opts.clock,
      log: opts.log,
      ringTimeoutMs: opts.ringTimeoutMs,
      fileDialog: (key, leg, call) => dialogs.set(key, { leg, call }),
      dropDialog: (key) => dialogs.delete(key),
      callEvent: (ev) => opts.onCallEvent?.(ev),
      ended: (call) => this.onCallEnded(call),
    };
    this.originateHost = {
      lan: this.lan,
      clock: opts.clock,
      log: opts.log,
      ringTimeoutMs: opts.ringTimeoutMs,
      callEvent: (ev) => opts.onCallEvent?.(ev),
      answered: (o, leg, sdp, media) => this.originateAnswered(o, leg, sdp, media),
      ended: (o) => this.originating.delete(o),
    };
    opts.tx.onRequest((req, tx, from) => this.onRequest(req, tx, from));
    // A phone that unregisters or lapses mid-call is gone: end its calls, so the other leg
    // (the NGN above all: a dangling dialog blocks the line for minutes) gets its BYE.
    opts.registrar.on("binding-removed", (b, reason) => {
      if (reason === "replaced") return;
      // Several bindings may share one flow (a phone registering several Contacts): the
      // phone is gone only when none of them is left there.
      const still = opts.registrar.lookup(b.aor).some((x) => sameEndpoint(x.source, b.source));
      if (still) return;
      for (const call of [...this.calls]) if (call.usesPeer(b.source)) call.hangup(`phone ${b.aor} ${reason}`);
    });
    opts.registrar.on("binding-moved", (b, from) => {
      for (const call of this.calls) call.retarget(from, b.source);
    });
  }

  /** Entry point for every new request the transaction layer passes up. */
  onRequest(req: SipRequest, tx: ServerTransaction | undefined, from: Endpoint): void {
    if (req.method === "ACK") return this.onAck(req);
    if (!tx) return;
    const valid = validateRequest(req);
    if (!valid.ok) return tx.respond(reply(req, valid.status, valid.reason));
    if (this.onInDialog(req, tx)) return;
    // §8.2.2.3: an extension we do not do, required to start something here, gets 420. (In a
    // dialog, Require belongs to the phones at both ends, and mid-call relays it.)
    const unsupported = req.method === "CANCEL" ? [] : unsupportedRequire(req);
    if (unsupported.length > 0) return tx.respond(badExtension(req, unsupported));
    switch (req.method) {
      case "REGISTER":
        return tx.respond(this.opts.registrar.handleRegister(req, from));
      case "INVITE":
        return void this.onInvite(req, tx, from).catch((err: unknown) => {
          this.log.error({ err }, "INVITE handling failed");
          tx.respond(reply(req, 500, "Server Internal Error"));
        });
      default:
        return tx.respond(answerOutOfDialog(req));
    }
  }

  /** An ACK on any side: for a 2xx of one of our calls' dialogs. */
  onAck(req: SipRequest): void {
    const tag = tagOf(getHeader(req, "to"));
    if (!tag) return;
    const filed = this.dialogs.get(dialogKey(getHeader(req, "call-id") ?? "", tag));
    if (!filed) return;
    if ("lingering" in filed) filed.onAck?.(req);
    else filed.call.onAck(filed.leg, req);
  }

  /**
   * A request with a To tag belongs to a dialog (§12.2.2): give it to the call owning the
   * dialog, or answer 481. Returns false when the request is not in-dialog.
   */
  onInDialog(req: SipRequest, tx: ServerTransaction): boolean {
    const toTag = tagOf(getHeader(req, "to"));
    if (!toTag) return false;
    const filed = this.dialogs.get(dialogKey(getHeader(req, "call-id") ?? "", toTag));
    if (!filed) tx.respond(createResponse(req, 481, "Call/Transaction Does Not Exist")); // the To tag is already there
    else if ("lingering" in filed) answerLingering(req, tx);
    else filed.call.onRequest(filed.leg, req, tx);
    return true;
  }

  /**
   * Start a call whose caller is already known (the trunk's inbound calls, or an
   * authenticated phone): allocate media, then ring the targets. The call counts against
   * its sides' channels from this moment on (activeOn), not only once its media exists:
   * two INVITEs arriving together must not both pass a one-channel check.
   */
  async startCall(req: SipRequest, tx: ServerTransaction, from: Endpoint, side: SipSide, caller: CallParty, called: string, direction: CallDirection, targets: CallTarget[], failure?: CallFailure): Promise<Call | undefined> {
    // Every call files dialogs that outlive it by 64·T1: past the bound, refuse rather than grow (§21.5.4).
    const max = this.opts.maxDialogs ?? DEFAULT_MAX_DIALOGS;
    if (this.dialogs.size >= max) {
      this.refusedOverload++;
      this.overloadLog.warn({ max, dialogs: this.dialogs.size, refused: this.refusedOverload }, "too many dialogs: new calls get 503 (limits.dialogs)");
      tx.respond(overloadResponse(req, this.opts.retryAfterS ?? DEFAULT_RETRY_AFTER_S, "gw"));
      return undefined;
    }
    let cancelled = false;
    tx.onCancel = () => (cancelled = true);
    const sides = new Set<SipSide>([side, ...targets.map((t) => t.side ?? this.lan)]);
    const admission: Admission = {
      sides,
      owner: side === this.lan ? caller.number : undefined,
      aborted: false,
      abort: (reason) => {
        if (admission.aborted) return;
        admission.aborted = true;
        this.log.info({ reason }, "call refused before ringing");
        tx.respond(createResponse(req, 503, "Service Unavailable", { toTag: "gw" }));
      },
    };
    this.admitting.add(admission);
    let media;
    try {
      media = await this.opts.media.create(getHeader(req, "call-id") ?? "");
    } finally {
      this.admitting.delete(admission);
    }
    if (admission.aborted) {
      media.release("refused before ringing");
      return undefined;
    }
    if (cancelled) {
      media.release("caller cancelled before ringing");
      tx.respond(createResponse(req, 487, "Request Terminated", { toTag: "gw" }));
      return undefined;
    }
    const call = new Call(this.host, tx, req, from, side, caller, called, direction, media);
    this.calls.add(call);
    this.sidesOf.set(call, sides);
    // The call's owner bounds its length (toll fraud: a line held open for days).
    const maxLength = this.limits.maxCallMs > 0 ? this.opts.clock.setTimeout(() => call.hangup("maximum call length reached (pbx.max_call_s)"), this.limits.maxCallMs) : undefined;
    this.owned.set(call, { owner: admission.owner, maxLength });
    call.ring(targets, failure);
    return call;
  }

  /** Calls with a leg on `side`, including those admitted and still waiting for media (a trunk's channel count). */
  activeOn(side: SipSide): number {
    let n = 0;
    for (const [call, sides] of this.sidesOf) if (call.status !== "ended" && sides.has(side)) n++;
    for (const a of this.admitting) if (!a.aborted && a.sides.has(side)) n++;
    return n;
  }

  /**
   * End every call with a leg on `side` (the trunk's lease changed or it goes down): BYE
   * for answered legs, CANCEL for ringing ones, 480 for an unanswered caller, 503 for a
   * call still waiting for its media. Returns how many calls it ended.
   */
  hangupOn(side: SipSide, reason: string): number {
    let n = 0;
    for (const [call, sides] of [...this.sidesOf]) {
      if (sides.has(side) && call.status !== "ended") {
        call.hangup(reason);
        n++;
      }
    }
    for (const a of [...this.admitting]) {
      if (a.sides.has(side) && !a.aborted) {
        a.abort(reason);
        n++;
      }
    }
    return n;
  }

  /** Where an extension rings: every registered device. */
  extensionTargets(number: string, except?: Endpoint): CallTarget[] {
    return this.opts.registrar
      .lookup(number)
      .filter((b) => !except || !sameEndpoint(b.source, except))
      .map((b: Binding) => bindingTarget(b, this.names.get(number), this.opts.localHost));
  }

  /** The trunk joins after the PBX exists (it needs the PBX for inbound calls). */
  setTrunk(trunk: TrunkPort): void {
    this.opts.trunk = trunk;
  }

  hasExtension(number: string): boolean {
    return this.names.has(number);
  }

  private async onInvite(req: SipRequest, tx: ServerTransaction, from: Endpoint): Promise<void> {
    const mf = maxForwards(req);
    const dialled = req.uri.user ?? "";
    const refuse = (status: number, reason: string, why: string, more: { caller?: string; rule?: string; alarm?: boolean } = {}) =>
      this.refusals.refuse(req, tx, status, reason, { dialled, why, ...more });
    if (mf !== undefined && mf <= 0) return refuse(483, "Too Many Hops", "Max-Forwards reached 0");
    if (this.closed) return refuse(503, "Service Unavailable", "gateway shutting down");

    const auth = this.opts.auth.authenticateRequest(req, { proxy: true, source: from });
    if (!auth.ok) return tx.respond(auth.response);
    const caller = auth.user;
    const busy = this.overLimit(caller);
    if (busy) return refuse(busy.status, busy.reason, `limit reached: ${busy.reason}`, { caller, alarm: true });

    const routed = this.routeDialled(dialled, caller, from);
    if ("refused" in routed) {
      const r = routed.refused;
      return refuse(r.status, r.reason, r.why, { caller, rule: r.rule, alarm: r.toll });
    }
    const { targets, failure, called, direction } = routed;
    // (The transaction layer already sent 100 Trying, §17.2.1.)
    const callerName = this.names.get(caller) ?? fromAddr(req).displayName;
    await this.startCall(req, tx, from, this.lan, { number: caller, name: callerName }, called, direction, targets, failure);
  }

  /** The dialplan's answer for `dialled` from `caller` (call-route.ts); an extension rings every device but `except`. */
  private routeDialled(dialled: string, caller: string, except?: Endpoint): Routed {
    return routeDialled(
      { dialplan: this.opts.dialplan, hasExtension: (n) => this.names.has(n), extensionTargets: (n, e) => this.extensionTargets(n, e), limits: this.limits, trunk: this.opts.trunk },
      dialled,
      caller,
      except,
    );
  }

  /**
   * Click-to-dial: ring `extension`'s devices, and once one answers call `number` as if that
   * extension had dialled it (originate.ts). Everything a dialled call would be refused for is
   * refused here, before anything rings: an unknown or unregistered extension, a number the
   * dialplan or the toll rules refuse, a trunk that is down or busy, the call limits. Returns
   * the call id at once, or why not (nothing was started then).
   */
  originate(extension: string, number: string): { callId: string } | { error: string } {
    if (this.closed) return { error: "the gateway is shutting down" };
    if (!this.names.has(extension)) return { error: `no extension ${extension}` };
    if (this.extensionTargets(extension).length === 0) return { error: `extension ${extension} is not registered` };
    const busy = this.overLimit(extension);
    if (busy) return { error: `extension ${extension}: ${busy.status} ${busy.reason}` };
    if (this.dialogs.size >= (this.opts.maxDialogs ?? DEFAULT_MAX_DIALOGS)) return { error: "too many dialogs (limits.dialogs): try again later" };
    const routed = this.routeDialled(number, extension);
    if ("refused" in routed) return { error: `${number}: ${routed.refused.status} ${routed.refused.reason} (${routed.refused.why})` };
    if (routed.direction === "internal" && routed.called === extension) return { error: `${number}: extension ${extension} cannot dial itself` };
    if (routed.failure) return { error: `${number}: ${routed.failure.status} ${routed.failure.reason} (extension ${routed.called} is not registered)` };
    const id = newCallId(this.opts.localHost);
    const o = new Originate(this.originateHost, { id, extension: { number: extension, name: this.names.get(extension) }, called: routed.called, direction: routed.direction });
    this.originating.add(o);
    this.opts.media.create(id).then(
      (media) => o.ring(media, this.extensionTargets(extension)),
      (err: unknown) => {
        this.log.error({ err, call_id: id }, "click-to-dial: no media for the call");
        o.hangup("media relay unavailable");
      },
    );
    return { callId: id };
  }

  /**
   * The extension answered a click-to-dial call: the rest is an ordinary Call whose caller's
   * leg is that answered dialog (originated-invite.ts). The number is routed again now, as
   * the trunk's state or channels may have changed while the extension rang; a refusal now
   * reaches the extension as a BYE with the refusal's status in its Reason.
   */
  private originateAnswered(o: Originate, leg: BLeg, sdp: string, media: CallMedia): void {
    this.originating.delete(o);
    const routed: Routed = this.closed ? { refused: { status: 503, reason: "Service Unavailable", why: "gateway shutting down" } } : this.routeDialled(o.called, o.caller.number, leg.peer);
    const targets = "refused" in routed ? [] : routed.targets;
    const failure: CallFailure | undefined = "refused" in routed ? { ...routed.refused } : routed.failure;
    const invite = callerInvite(o.id, leg.dialog, o.called, this.lan.host, sdp);
    let call: Call | undefined;
    const caller = new OriginatedInvite(invite, { dialog: leg.dialog, net: this.lan, contact: `<sip:${o.called}@${this.lan.host}:${this.lan.port}>`, peer: () => call?.callerPeer ?? leg.peer, log: o.log });
    call = new Call(this.host, caller, invite, leg.peer, this.lan, o.caller, o.called, o.direction, media, leg.dialog);
    const answered = call;
    caller.onAnswered = () => answered.callerConfirmed();
    this.calls.add(call);
    this.sidesOf.set(call, new Set<SipSide>([this.lan, ...targets.map((t) => t.side ?? this.lan)]));
    const maxLength = this.limits.maxCallMs > 0 ? this.opts.clock.setTimeout(() => answered.hangup("maximum call length reached (pbx.max_call_s)"), this.limits.maxCallMs) : undefined;
    this.owned.set(call, { owner: o.caller.number, maxLength });
    call.ring(targets, failure, true);
  }

  /** The per-extension (486) or total (503) limit a new call from `caller` would pass, if any. */
  private overLimit(caller: string): { status: number; reason: string } | undefined {
    let mine = 0;
    let all = 0;
    for (const [call, o] of this.owned) {
      if (call.status === "ended") continue;
      all++;
      if (o.owner === caller) mine++;
    }
    for (const a of this.admitting) {
      if (a.aborted) continue;
      all++;
      if (a.owner === caller) mine++;
    }
    for (const o of this.originating) {
      all++;
      if (o.caller.number === caller) mine++;
    }
    if (mine >= this.limits.perExtension) return { status: 486, reason: "Too Many Calls From This Extension" };
    if (all >= this.limits.total) return { status: 503, reason: "Too Many Calls" };
    return undefined;
  }

  private onCallEnded(call: Call): void {
    this.opts.clock.clearTimeout(this.owned.get(call)?.maxLength);
    this.owned.delete(call);
    this.calls.delete(call);
    this.sidesOf.delete(call);
    // Late requests (a BYE crossing ours, a late ACK) still find the dialog for a while, as a
    // small record: the call itself is garbage now (call-linger.ts).
    const onAck = call.lingeringAck();
    const keys = call.dialogKeys().filter((k) => this.filedFor(k) === call);
    this.linger(keys, onAck ? { lingering: true, onAck } : ENDED);
  }

  private filedFor(key: string): Call | undefined {
    const f = this.dialogs.get(key);
    return f && "call" in f ? f.call : undefined;
  }

  /**
   * File `rec` under `keys` for the linger; its own scope, so the sweep's closure holds no
   * call. The keys are filed again as flat copies: a key built from a datagram's Call-ID is a
   * concatenation over a slice of that datagram's text, which would stay alive with it. Keys
   * go in batches of LINGER_BATCH_MS, each swept by one timer once its last key's linger is
   * over (never early, at most one batch late).
   */
  private linger(keys: string[], rec: LingeringDialog): void {
    const tick = Math.floor(this.opts.clock.now() / LINGER_BATCH_MS);
    let batch = this.lingerBatch;
    if (!batch || batch.tick !== tick) {
      const b = (batch = this.lingerBatch = { tick, keys: [] });
      this.opts.clock.setTimeout(() => {
        if (this.lingerBatch === b) this.lingerBatch = undefined;
        for (const k of b.keys) {
          const f = this.dialogs.get(k);
          if (f && "lingering" in f) this.dialogs.delete(k);
        }
      }, LINGER_MS + LINGER_BATCH_MS);
    }
    for (const k of keys) {
      const flat = flatString(k);
      // (Map.set on a key already there keeps the old key string: delete first.)
      this.dialogs.delete(k);
      this.dialogs.set(flat, rec);
      batch.keys.push(flat);
    }
  }

  /** Hang up one call (by call id) or all: MQTT `{hangup}` and shutdown. */
  hangup(callId: string | "all", reason: string): number {
    let n = 0;
    for (const o of [...this.originating]) {
      if (callId === "all" || o.id === callId) {
        o.hangup(reason);
        n++;
      }
    }
    for (const c of [...this.calls]) {
      if (callId === "all" || c.id === callId) {
        c.hangup(reason);
        n++;
      }
    }
    return n;
  }

  /** Shutdown: refuse new calls, hang up every call (BYE both legs) and every call still starting. */
  close(): void {
    this.closed = true;
    this.hangup("all", "gateway shutting down");
    for (const a of [...this.admitting]) a.abort("gateway shutting down");
  }

  /** Whether a live call (click-to-dial ones still ringing their extension included) has this id. */
  hasCall(callId: string): boolean {
    for (const o of this.originating) if (o.id === callId) return true;
    for (const c of this.calls) if (c.id === callId) return true;
    return false;
  }

  /** Every live call as `hikari-gw status` shows it, click-to-dial ones still ringing their extension first. */
  summaries(): ActiveCall[] {
    return [...[...this.originating].map((o) => o.summary()), ...[...this.calls].map((c) => c.summary())];
  }

  /** Live dialog count (for leak checks in tests). */
  get dialogCount(): number {
    return this.dialogs.size;
  }
}
