/**
 * A call through the back-to-back user agent: one UAS leg toward the caller ("a") and, while
 * ringing, one UAC leg per device of the callee ("b" legs, forked in parallel; the first 2xx
 * wins and the rest are cancelled). Each leg is its own dialog with its own Call-ID, tags and
 * CSeq (RFC 3261 §12); the call maps requests and responses between them and has the media
 * rewrite both sides' SDP.
 */
import type { TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import type { ActiveCall, CallDirection, CallEvent, HangupBy } from "../events.js";
import type { Endpoint, Header, SipRequest, SipResponse } from "../sip/message/types.js";
import { createResponse, getHeader, newCallId, newTag, maxForwards, setHeader, tagOf } from "../sip/message/index.js";
import { Dialog } from "../sip/dialog/dialog.js";
import type { ServerTransaction } from "../sip/transaction/layer.js";
import type { CallMedia, CallSide } from "./call-media.js";
import type { BLeg, CallControl, CallFailure, CallHost, CallParty, CallTarget, Leg, SipSide } from "./call-types.js";
import { CallStateMachine, type CallState, type CallStatus } from "./call-state.js";
import { MidCall } from "./mid-call.js";
import { CallerAnswer } from "./call-answer.js";
import { onEarlyRequest, type EarlyDialogPort } from "./call-early-dialog.js";
import { CalleeLeg, type BLegUser } from "./call-b-leg.js";
import { CallLegs } from "./call-legs.js";
import { callEvent, callSummary } from "./call-report.js";
import { ANSWERED_ELSEWHERE, causeFor, q850Reason, reasonsOf } from "./call-reason.js";

export type { BLeg, CallControl, CallFailure, CallHost, CallParty, CallTarget, Leg, SipSide } from "./call-types.js";
export type { CallState, CallStatus } from "./call-state.js";

export class Call implements CallControl {
  readonly id: string;
  readonly startedAt: number;
  answeredAt?: number;
  readonly log: Logger;
  private readonly fsm: CallStateMachine;
  private readonly legs: CallLegs;
  private readonly mid: MidCall;
  private ringTimer?: TimerHandle;
  private readonly bLegUser: BLegUser = {
    onResponse: (leg, res) => this.onBResponse(leg, res),
    onFailure: (leg, status, reason) => this.onBFailure(leg, status, reason),
  };
  /** The caller's requests in its early dialog (RFC 3311 §5.1), while the call rings. */
  private readonly early: EarlyDialogPort = {
    earlyLegs: () => this.legs.forks.early(),
    relay: (from, to, req, tx) => this.mid.onRequest(from, to, req, tx),
    contactToward: (leg) => this.legs.contactToward(leg),
  };
  private endReason = "";
  private sentProvisional?: number;
  /** Which B leg's SDP answers the caller's offer, and whether it reached the caller reliably. */
  private readonly answer = new CallerAnswer({
    a: () => this.a,
    lateOffer: () => this.lateOffer,
    callerOffer: () => this.invite.body.toString("utf8"),
    log: () => this.log,
    sdpFor: (to, from, sdp) => this.legs.sdpFor(to, from, sdp),
    sdpTo: (to, msg, sdp, from) => this.legs.sdpTo(to, msg, sdp, from),
    withBody: (msg, sdp) => this.legs.withBody(msg, sdp),
  });

  constructor(
    private readonly host: CallHost,
    private readonly inviteTx: ServerTransaction,
    private readonly invite: SipRequest,
    source: Endpoint,
    aSide: SipSide,
    readonly caller: CallParty,
    readonly called: string,
    readonly direction: CallDirection,
    readonly media: CallMedia,
    /**
     * The caller's dialog when it exists already: a call the gateway originated (click-to-dial,
     * originate.ts) has the extension's answered UAC dialog as its caller's leg. Otherwise the
     * UAS dialog of the caller's INVITE (§12.1.1).
     */
    callerDialog?: Dialog,
  ) {
    this.id = invite.headers.find((h) => h.name === "call-id")?.value ?? newCallId();
    this.log = host.log.child({ call_id: this.id });
    this.startedAt = host.clock.now();
    this.fsm = new CallStateMachine(this.log);
    const aDialog = callerDialog ?? Dialog.asUas(invite, newTag());
    const a: Leg = { control: this, side: "a", dialog: aDialog, peer: source, net: aSide };
    this.legs = new CallLegs(a, invite, { caller, called }, host.lan, this.log, media, host.log);
    this.mid = new MidCall(this.legs);
    host.fileDialog(aDialog.key, a, this);
    inviteTx.onCancel = (cancel) => this.onCallerCancel(cancel);
    media.onTimeout = (side) => this.mediaTimedOut(side);
  }

  get state(): CallState {
    return this.fsm.state;
  }

  /** As `hikari-gw status` shows it: trying, ringing, answered, ended. */
  get status(): CallStatus {
    return this.fsm.status;
  }

  get holdBy(): "a" | "b" | undefined {
    return this.legs.holdBy;
  }

  get extension(): string | undefined {
    return this.winner?.target.extension;
  }

  /** The answering machine took the call (its events say so). */
  get answeredBy(): "voicemail" | undefined {
    return this.winner?.target.voicemail ? "voicemail" : undefined;
  }

  private get a(): Leg {
    return this.legs.a;
  }

  private get winner(): BLeg | undefined {
    return this.legs.winner;
  }

  /** The caller's INVITE had no SDP (late offer): the callee's 2xx makes the offer, the caller's ACK answers. */
  private get lateOffer(): boolean {
    return this.invite.body.length === 0;
  }

  /**
   * Ring every target in parallel. With no targets, the caller gets `fallback`. `announced`:
   * the call's first event went out already (click-to-dial reports `outgoing` when it starts
   * ringing the extension, before this leg exists).
   */
  ring(targets: CallTarget[], fallback: CallFailure = { status: 480, reason: "Temporarily Unavailable" }, announced = false): void {
    if (!announced) this.host.callEvent(this.event(this.direction === "outbound" ? "outgoing" : "incoming"));
    if (targets.length === 0) return this.fail(fallback.status, fallback.reason, fallback.why ?? "no device to ring", fallback.event);
    const mf = maxForwards(this.invite) ?? 70;
    for (const target of targets) {
      const side = target.side ?? this.host.lan;
      let offer = Buffer.alloc(0);
      if (this.invite.body.length > 0) {
        const sdp = this.legs.sdpFor(side, "a", this.invite.body.toString("utf8"));
        if (sdp === null) {
          if (targets.length === 1) return this.fail(488, "Not Acceptable Here", `the caller offers no codec ${side.name} accepts`);
          continue;
        }
        offer = Buffer.from(sdp);
      }
      const leg = new CalleeLeg(this, { target, side, lan: this.host.lan, caller: this.caller, offer, maxForwards: mf - 1 }, this.bLegUser);
      this.host.fileDialog(leg.dialog.key, leg, this);
      this.legs.forks.add(leg);
    }
    if (this.legs.forks.legs.length === 0) return this.fail(488, "Not Acceptable Here", "no target accepts the offer");
    this.ringTimer = this.host.clock.setTimeout(() => this.onRingTimeout(), this.host.ringTimeoutMs);
    this.log.info({ from: this.caller.number, to: this.called, targets: targets.map((t) => t.label) }, "call ringing out");
  }

  // ---------------------------------------------------------------- B-leg responses

  /** A response on a B leg's INVITE transaction (including 2xx retransmissions, RFC 6026). */
  onBResponse(leg: BLeg, res: SipResponse): void {
    if (res.status < 200) {
      if (res.status === 100) return;
      leg.dialog.learnFromResponse(res);
      leg.net.onProvisional?.(leg, res);
      this.answer.noteEarly(leg, res);
      if (this.fsm.ringing) {
        // Forked devices each ring: tell the caller once per kind of provisional, and always when SDP (early media) comes.
        if (res.body.length === 0 && this.sentProvisional === res.status) return;
        this.sentProvisional = res.status;
        if (this.fsm.state === "trying") this.fsm.transition("early");
        const reply = this.aResponse(res.status, res.reason);
        if (res.body.length > 0) this.answer.fromB(reply, res.body.toString("utf8"));
        this.a.net.provisionalOut?.(this.a, this.invite, reply, this.inviteTx);
        this.answer.sentProvisional(leg, reply);
        this.inviteTx.respond(reply);
      }
      return;
    }
    if (res.status < 300) return this.onB2xx(leg, res);
    this.onBFailure(leg, res.status, res.reason);
  }

  private onB2xx(leg: BLeg, res: SipResponse): void {
    // Another To tag than the leg's confirmed dialog's: another fork's 2xx, its own dialog (§13.2.2.4).
    const tag = tagOf(getHeader(res, "to"));
    if (leg.dialog.state === "confirmed" && tag && tag !== leg.dialog.remoteTag) return this.legs.otherFork(leg, res, tag);
    // (Only a response with a To tag confirms the dialog, §12.1.2.)
    const alreadyConfirmed = leg.dialog.state === "confirmed";
    leg.dialog.learnFromResponse(res);
    leg.final ??= { status: res.status, reason: res.reason };
    if (alreadyConfirmed && leg === this.winner) {
      // A retransmitted 2xx: our ACK was lost (§13.2.2.4). Re-ACK unless we are still waiting for A's answer.
      if (!this.legs.heldAck) this.legs.sendAck(leg);
      return;
    }
    if (!this.fsm.ringing) {
      // A second device answered too late (forking race), or the call is over: ACK and BYE it.
      this.legs.sendAck(leg);
      if (!alreadyConfirmed) this.legs.sendBye(leg, [ANSWERED_ELSEWHERE]);
      return;
    }
    this.legs.winner = leg;
    this.host.clock.clearTimeout(this.ringTimer);
    this.legs.forks.cancelRinging(leg, [leg.net.answeredReason ?? ANSWERED_ELSEWHERE]);
    // Its media does not pass the relay: free the ports now (and no media timeout from them).
    if (leg.net.terminatesMedia) this.media.release(`answered by ${leg.target.label}`);
    this.fsm.transition("accepted");
    this.answeredAt = this.host.clock.now();
    const ok = this.aResponse(200, "OK");
    if (res.body.length > 0) this.answer.fromB(ok, res.body.toString("utf8"));
    else this.answer.earlyInto(ok, leg);
    for (const h of this.a.net.answerHeaders?.(this.invite) ?? []) setHeader(ok, h.name, h.value);
    leg.net.onConfirmed?.(leg, leg.invite, res);
    this.a.net.onConfirmed?.(this.a, this.invite, undefined);
    if (this.lateOffer) this.legs.heldAck = { offer: res.body.length > 0 ? res.body.toString("utf8") : undefined };
    else this.legs.sendAck(leg);
    this.a.dialog.confirm();
    this.inviteTx.onNoAck = () => {
      this.log.warn("caller never ACKed our 200: hanging up");
      this.hangup("no ACK from caller");
    };
    const send = () => this.inviteTx.respond(ok);
    if (this.a.net.holdFinal?.(this.a, send)) this.log.info("200 held until the caller PRACKs our reliable provisional (RFC 3262 §3)");
    else send();
    this.log.info({ device: leg.target.label }, "call answered");
    this.host.callEvent(this.event("answered"));
  }

  private onBFailure(leg: BLeg, status: number, reason: string): void {
    if (leg.final) return;
    leg.final = { status, reason };
    if (!this.fsm.ringing) return;
    const heard = this.legs.forks.failed(leg, status, reason);
    if (heard) this.fail(heard.status, heard.reason, `callee answered ${heard.status}`);
  }

  // ---------------------------------------------------------------- caller side

  private aResponse(status: number, reason: string): SipResponse {
    const res = createResponse(this.invite, status, reason, { toTag: this.a.dialog.localTag });
    if (status < 300 && status > 100) setHeader(res, "contact", this.legs.contactToward(this.a));
    return res;
  }

  /**
   * The caller sent CANCEL before an answer (§9.2): the layer already said 200 to it. Its
   * Reason (RFC 3326 §3; the line's "answered elsewhere" among them) goes on to the devices.
   */
  private onCallerCancel(cancel: SipRequest): void {
    if (!this.fsm.ringing) return;
    const reason = reasonsOf(cancel);
    this.log.info(reason.length > 0 ? { reason: reason.map((h) => h.value) } : {}, "caller cancelled");
    this.inviteTx.respond(this.aResponse(487, "Request Terminated"));
    this.end("cancelled", "missed", undefined, reason);
  }

  private onRingTimeout(): void {
    if (!this.fsm.ringing) return;
    this.log.info({ timeout_ms: this.host.ringTimeoutMs }, "no answer");
    this.inviteTx.respond(this.aResponse(480, "Temporarily Unavailable"));
    this.end("no answer", "missed");
  }

  private fail(status: number, reason: string, why: string, event?: CallEvent["type"]): void {
    if (this.fsm.ended) return;
    this.inviteTx.respond(this.aResponse(status, reason));
    this.log.info({ status, why }, "call failed");
    this.end(why, event ?? (status === 486 || status === 600 || status === 603 ? "rejected" : "missed"), `${status} ${reason}`);
  }

  /** A side sent no RTP or RTCP for the media timeout while not on hold: that phone (or line) is gone. */
  mediaTimedOut(side?: CallSide): void {
    if (!this.fsm.answered) return;
    const who = side === "a" ? "caller" : side === "b" ? "callee" : "either side";
    this.log.warn({ side }, `no media from the ${who}: hanging up`);
    this.hangup(side ? `media timeout (${who})` : "media timeout");
  }

  /**
   * Originated calls only: our 2xx to the caller goes nowhere (the caller's dialog was
   * confirmed by our own ACK to its 2xx, RFC 3261 §13.2.2.4), so no ACK will come for it;
   * the call is confirmed at once, and re-INVITEs are relayed from then on.
   */
  callerConfirmed(): void {
    if (this.fsm.state === "accepted") this.fsm.transition("confirmed");
  }

  /** Where requests to the caller go now (a phone's flow may move while the call lasts). */
  get callerPeer(): Endpoint {
    return this.a.peer;
  }

  // ---------------------------------------------------------------- in-dialog requests

  /** ACK from a leg's peer: the end of an INVITE (initial or re-INVITE) with a 2xx. */
  onAck(leg: Leg, ack: SipRequest): void {
    // The caller's ACK for our 200 (§13.3.1.4), or, after the call ended first, one that
    // still brings the answer the winner's held ACK waits for.
    if (leg === this.a && (this.fsm.state === "accepted" || this.legs.heldAck)) {
      if (this.fsm.state === "accepted") this.fsm.transition("confirmed");
      const held = this.legs.heldAck;
      this.legs.heldAck = undefined;
      if (held && this.winner) this.legs.sendAck(this.winner, ack.body.length > 0 ? this.answer.answerFor(this.winner, "a", ack.body.toString("utf8"), held.offer) : undefined);
      return;
    }
    this.mid.onAck(leg, ack);
  }

  /** Any request inside one of this call's dialogs except ACK and CANCEL. */
  onRequest(leg: Leg, req: SipRequest, tx: ServerTransaction): void {
    // Our key (Call-ID, our tag) is shared by every fork's dialog on a B leg: one from another
    // fork's dialog, which we BYEd, is not the call's. Its BYE crossed ours (§15.1.2): 200;
    // anything else, or an unknown fork, 481 (§12.2.2).
    const fromTag = tagOf(getHeader(req, "from"));
    if (leg.side === "b" && leg.dialog.state === "confirmed" && fromTag !== leg.dialog.remoteTag) {
      const known = fromTag !== "" && this.legs.isOtherFork(leg, fromTag);
      if (known && req.method === "BYE") tx.respond(createResponse(req, 200, "OK"));
      else tx.respond(createResponse(req, 481, "Call/Transaction Does Not Exist"));
      return;
    }
    if (!leg.dialog.acceptRemoteSeq(req)) {
      tx.respond(createResponse(req, 500, "Server Internal Error"));
      return;
    }
    if (req.method === "BYE") return this.onBye(leg, req, tx);
    if (leg.net.absorb?.(leg, req, tx, leg.lastSdp)) return;
    const other = this.legs.otherLeg(leg);
    if (!other && leg === this.a && this.fsm.ringing && onEarlyRequest(this.early, leg, req, tx)) return;
    if (!other || this.fsm.ended) {
      tx.respond(createResponse(req, 481, "Call/Transaction Does Not Exist"));
      return;
    }
    if (req.method === "INVITE" && this.fsm.state !== "confirmed") {
      // §14.2: a re-INVITE while the initial INVITE is still open (unanswered, or our 2xx un-ACKed) gets 491.
      tx.respond(createResponse(req, 491, "Request Pending"));
      return;
    }
    this.mid.onRequest(leg, other, req, tx);
  }

  private onBye(leg: Leg, req: SipRequest, tx: ServerTransaction): void {
    tx.respond(createResponse(req, 200, "OK"));
    if (leg.side === "b" && leg !== this.winner) return; // a losing fork hung up: nothing else to do
    this.log.info({ by: leg.side === "a" ? "caller" : "callee" }, "hangup");
    if (this.fsm.ringing) {
      // BYE before the 2xx (only legal from the caller after an early dialog, §15): end like CANCEL.
      this.inviteTx.respond(this.aResponse(487, "Request Terminated"));
      return this.end("caller hung up before answer", "missed");
    }
    const other = this.legs.otherLeg(leg);
    // The hanging-up side's Reason, if it gave one, goes on to the other (RFC 3326 §3).
    if (other) this.legs.sendBye(other, reasonsOf(req));
    // The a leg is always the calling side (RFC 3261 §12.1: our UAS dialog), the b leg the answering one.
    const by: HangupBy = leg.side === "a" ? "caller" : "callee";
    this.end(`${by} hung up`, "ended", undefined, [], by);
  }

  /**
   * End the call from our side (command, media timeout, lease change, shutdown): BYE or
   * CANCEL everything, each with a Reason (RFC 3326) naming why, so a phone can show it.
   */
  hangup(reason: string): void {
    if (this.fsm.ended) return;
    const why = [q850Reason(causeFor(reason), reason)];
    if (this.fsm.ringing) {
      this.inviteTx.respond(this.aResponse(480, "Temporarily Unavailable"));
      return this.end(reason, "missed", undefined, why);
    }
    this.legs.sendBye(this.a, why);
    if (this.winner) this.legs.sendBye(this.winner, why);
    this.end(reason, "ended");
  }

  /**
   * `cancelReason`: the Reason headers on the CANCELs to the legs still ringing. `by`: who ended
   * it, reported on `ended` (an answered call); everything but a BYE we received is the gateway.
   */
  private end(reason: string, type: CallEvent["type"], detail?: string, cancelReason: Header[] = [], by: HangupBy = "gateway"): void {
    if (this.fsm.ended) return;
    const wasAnswered = this.fsm.answered;
    this.fsm.transition("terminated");
    this.endReason = reason;
    this.host.clock.clearTimeout(this.ringTimer);
    this.legs.forks.cancelRinging(undefined, cancelReason);
    this.a.net.onEnded?.(this.a);
    if (this.winner) this.winner.net.onEnded?.(this.winner);
    const stats = this.media.release(reason);
    const ev = this.event(wasAnswered ? "ended" : type);
    ev.reason = detail ?? reason;
    if (wasAnswered && this.answeredAt !== undefined) ev.duration_s = Math.round((this.host.clock.now() - this.answeredAt) / 1000);
    if (wasAnswered) {
      ev.hangup_by = by;
      // The relay carried nothing of a call the answering machine took (freed at its answer).
      if (!this.winner?.net.terminatesMedia) ev.quality = this.media.quality?.();
    }
    this.log.info({ reason, duration_s: ev.duration_s, media: stats }, "call ended");
    this.host.callEvent(ev);
    this.releaseHooks();
    // The PBX keeps a small record per dialog key for late retransmissions (BYE, 2xx), not the call.
    this.host.ended(this);
  }

  /**
   * Nothing that outlives the call (its INVITE transactions for 64·T1, the media) may hold
   * it: cut every hook into it, so an ended call is garbage at once (call-linger.ts).
   */
  private releaseHooks(): void {
    this.inviteTx.onCancel = undefined;
    this.inviteTx.onNoAck = undefined;
    this.media.onTimeout = undefined;
    this.legs.release();
  }

  /**
   * Late offer only: the callee hung up before the caller's ACK, which still brings the
   * answer the callee's held ACK waits for (§13.2.2.4). Undefined on every other call, so
   * that only this rare call stays reachable while its dialogs linger.
   */
  lingeringAck(): ((ack: SipRequest) => void) | undefined {
    if (!this.legs.heldAck || !this.winner) return undefined;
    return (ack) => this.onAck(this.a, ack);
  }

  /** Whether one of this call's live legs talks to `peer` (a phone's address). */
  usesPeer(peer: Endpoint): boolean {
    return this.legs.usesPeer(peer);
  }

  /** A phone's flow moved from `from` to `to`: its requests (and, once answered, its media) follow it. */
  retarget(from: Endpoint, to: Endpoint): void {
    this.legs.retarget(from, to, this.fsm.answered);
  }

  /** Every dialog key this call filed, so the PBX can drop them after the call. */
  dialogKeys(): string[] {
    return this.legs.dialogKeys();
  }

  /** Live media figures per side while the call is up (`hikari-gw status`); undefined without a relay. */
  liveMedia(): unknown {
    return this.fsm.ended ? undefined : this.media.live?.();
  }

  /** Its line in `hikari-gw status` and MQTT's call list of live calls. */
  summary(): ActiveCall {
    return callSummary(this, this.endReason || undefined, this.fsm.ended ? undefined : this.media.live?.());
  }

  private event(type: CallEvent["type"]): CallEvent {
    return callEvent(this, type, this.host.clock.now());
  }
}
