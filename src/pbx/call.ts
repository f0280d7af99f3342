/**
 * A call through the back-to-back user agent: one UAS leg toward the caller ("a") and, while
 * ringing, one UAC leg per device of the callee ("b" legs, forked in parallel; the first 2xx
 * wins and the rest are cancelled). Each leg is its own dialog with its own Call-ID, tags and
 * CSeq (RFC 3261 §12); the call maps requests and responses between them and has the media
 * rewrite both sides' SDP.
 */
import type { TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import type { CallDirection, CallEvent } from "../events.js";
import type { Endpoint, SipRequest, SipResponse } from "../sip/message/types.js";
import { createResponse, getHeader, newCallId, newTag, maxForwards, setHeader, cseq } from "../sip/message/index.js";
import { Dialog } from "../sip/dialog/dialog.js";
import type { ServerTransaction } from "../sip/transaction/layer.js";
import type { CallMedia, CallSide } from "./call-media.js";
import type { BLeg, CallFailure, CallHost, CallParty, CallState, CallTarget, Leg, SipSide } from "./call-types.js";
import { MidCall, type MidCallPort } from "./mid-call.js";
import { refuseAll } from "./answer-shape.js";
import { CallerAnswer } from "./call-answer.js";
import { onEarlyRequest, type EarlyDialogPort } from "./call-early-dialog.js";
import { bLegInvite } from "./call-b-invite.js";

export type { BLeg, CallFailure, CallHost, CallParty, CallState, CallTarget, Leg, SipSide } from "./call-types.js";

export class Call implements MidCallPort {
  readonly id: string;
  state: CallState = "trying";
  readonly startedAt: number;
  answeredAt?: number;
  readonly log: Logger;
  private readonly a: Leg;
  private readonly bLegs: BLeg[] = [];
  private winner?: BLeg;
  private ringTimer?: TimerHandle;
  /** Our 200 to the caller awaits its ACK (the layer retransmits it, §13.3.1.4). */
  private awaitingAck = false;
  /** Initial INVITE had no SDP (late offer): B's ACK waits for A's ACK with the answer. */
  private readonly lateOffer: boolean;
  private pendingAckToB = false;
  /** Late offer: the offer in the winner's 2xx, which the caller's ACK answers. */
  private bOffer?: string;
  private readonly mid = new MidCall(this);
  /** The caller's requests in its early dialog (RFC 3311 §5.1), while the call rings. */
  private readonly early: EarlyDialogPort = {
    earlyLegs: () => this.bLegs.filter((l) => l.hasDialog && !l.done && !l.cancelled),
    relay: (from, to, req, tx) => this.mid.onRequest(from, to, req, tx),
    contactToward: (leg) => this.contactToward(leg),
  };
  private endReason = "";
  private sentProvisional?: number;
  private bestFailure?: { status: number; reason: string };
  /** Which B leg's SDP answers the caller's offer, and whether it reached the caller reliably. */
  private readonly answer = new CallerAnswer({
    a: () => this.a,
    lateOffer: () => this.lateOffer,
    callerOffer: () => this.invite.body.toString("utf8"),
    log: () => this.log,
    sdpFor: (to, from, sdp) => this.sdpFor(to, from, sdp),
    sdpTo: (to, msg, sdp, from) => this.sdpTo(to, msg, sdp, from),
    withBody: (msg, sdp) => this.withBody(msg, sdp),
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
  ) {
    this.id = invite.headers.find((h) => h.name === "call-id")?.value ?? newCallId();
    this.log = host.log.child({ call_id: this.id });
    this.startedAt = host.clock.now();
    this.lateOffer = invite.body.length === 0;
    const aDialog = Dialog.asUas(invite, newTag());
    this.a = { call: this, side: "a", dialog: aDialog, peer: source, net: aSide };
    host.fileDialog(aDialog.key, this.a);
    inviteTx.onCancel = () => this.onCallerCancel();
    media.onTimeout = (side) => this.onMediaTimeout(side);
  }

  get extension(): string | undefined {
    return this.winner?.target.extension;
  }

  /** Ring every target in parallel. With no targets, the caller gets `fallback`. */
  ring(targets: CallTarget[], fallback: CallFailure = { status: 480, reason: "Temporarily Unavailable" }): void {
    this.host.callEvent(this.event(this.direction === "outbound" ? "outgoing" : "incoming"));
    if (targets.length === 0) return this.fail(fallback.status, fallback.reason, fallback.why ?? "no device to ring", fallback.event);
    const mf = maxForwards(this.invite) ?? 70;
    for (const target of targets) {
      const side = target.side ?? this.host.lan;
      let offer = Buffer.alloc(0);
      if (this.invite.body.length > 0) {
        const sdp = this.sdpFor(side, "a", this.invite.body.toString("utf8"));
        if (sdp === null) {
          if (targets.length === 1) return this.fail(488, "Not Acceptable Here", `the caller offers no codec ${side.name} accepts`);
          continue;
        }
        offer = Buffer.from(sdp);
      }
      this.startBLeg(target, side, offer, mf - 1);
    }
    if (this.bLegs.length === 0) return this.fail(488, "Not Acceptable Here", "no target accepts the offer");
    this.ringTimer = this.host.clock.setTimeout(() => this.onRingTimeout(), this.host.ringTimeoutMs);
    this.log.info({ from: this.caller.number, to: this.called, targets: targets.map((t) => t.label) }, "call ringing out");
  }

  private contactFor(leg: Leg | SipSide, user: string): string {
    const side = "net" in leg ? leg.net : leg;
    return `<sip:${user}@${side.host}:${side.port}>`;
  }

  /** Our Contact toward a leg's peer: it names the party on the other side (callee toward the caller). */
  contactToward(leg: Leg): string {
    return this.contactFor(leg, leg.contactUser ?? (leg.side === "a" ? this.called : this.caller.number));
  }

  /** SDP from `from`'s peer, rewritten by the media and shaped for `to` (null: `to` cannot take it). */
  sdpFor(to: SipSide, from: CallSide, sdp: string): string | null {
    const out = this.media.fromSide(from, sdp, to.host);
    return to.shapeSdp ? to.shapeSdp(out) : out;
  }

  private startBLeg(target: CallTarget, side: SipSide, offer: Buffer, mf: number): void {
    const { invite, dialog, fromUser } = bLegInvite(target, side, this.host.lan, this.caller, offer, mf);
    const leg = { call: this, side: "b", dialog, peer: target.destination, net: side, contactUser: fromUser, lastSdp: offer.length ? offer.toString() : undefined, target, invite, hasDialog: false, done: false, cancelled: false } as unknown as BLeg;
    this.host.fileDialog(dialog.key, leg);
    leg.tx = side.tx.sendRequest(invite, target.destination, {
      onResponse: (res) => this.onBResponse(leg, res),
      onTimeout: () => this.onBFailure(leg, 408, "Request Timeout"),
      onTransportError: () => this.onBFailure(leg, 503, "Service Unavailable"),
    });
    this.bLegs.push(leg);
  }

  // ---------------------------------------------------------------- B-leg responses

  /** A response on a B leg's INVITE transaction (including 2xx retransmissions, RFC 6026). */
  onBResponse(leg: BLeg, res: SipResponse): void {
    if (res.status < 200) {
      if (res.status === 100) return;
      this.learnEarlyDialog(leg, res);
      leg.net.onProvisional?.(leg, res);
      this.answer.noteEarly(leg, res);
      if (this.state === "trying" || this.state === "ringing") {
        // Forked devices each ring: tell the caller once per kind of provisional, and always when SDP (early media) comes.
        if (res.body.length === 0 && this.sentProvisional === res.status) return;
        this.sentProvisional = res.status;
        this.state = "ringing";
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

  private learnEarlyDialog(leg: BLeg, res: SipResponse): void {
    const toTag = /;\s*tag=([^;>\s]+)/i.exec(getHeader(res, "to") ?? "")?.[1];
    if (!toTag) return;
    const d = Dialog.asUac(leg.invite, res);
    leg.dialog.remoteTag = d.remoteTag;
    leg.dialog.remoteTarget = d.remoteTarget;
    leg.dialog.routeSet = d.routeSet;
    leg.dialog.state = d.state;
    leg.hasDialog = true;
  }

  private onB2xx(leg: BLeg, res: SipResponse): void {
    const alreadyConfirmed = leg.hasDialog && leg.dialog.state === "confirmed";
    this.learnEarlyDialog(leg, res);
    leg.dialog.state = "confirmed";
    if (alreadyConfirmed && leg === this.winner) {
      // A retransmitted 2xx: our ACK was lost (§13.2.2.4). Re-ACK unless we are still waiting for A's answer.
      if (!this.pendingAckToB) this.sendAck(leg);
      return;
    }
    if (this.winner || this.state === "ended") {
      // A second device answered too late (forking race), or the call is over: ACK and BYE it.
      this.sendAck(leg);
      if (!alreadyConfirmed) this.sendBye(leg);
      leg.done = true;
      return;
    }
    this.winner = leg;
    leg.done = true;
    this.host.clock.clearTimeout(this.ringTimer);
    for (const other of this.bLegs) if (other !== leg && !other.done) this.cancelBLeg(other);
    this.state = "answered";
    this.answeredAt = this.host.clock.now();
    const ok = this.aResponse(200, "OK");
    if (res.body.length > 0) this.answer.fromB(ok, res.body.toString("utf8"));
    else this.answer.earlyInto(ok, leg);
    if (this.lateOffer && res.body.length > 0) this.bOffer = res.body.toString("utf8");
    for (const h of this.a.net.answerHeaders?.(this.invite) ?? []) setHeader(ok, h.name, h.value);
    leg.net.onConfirmed?.(leg, leg.invite, res);
    this.a.net.onConfirmed?.(this.a, this.invite, undefined);
    if (this.lateOffer) this.pendingAckToB = true;
    else this.sendAck(leg);
    this.a.dialog.state = "confirmed";
    this.awaitingAck = true;
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
    if (leg.done) return;
    leg.done = true;
    leg.finalStatus = status;
    leg.finalReason = reason;
    if (this.state === "ended" || this.winner) return;
    if (!leg.cancelled) this.noteFailure(status, reason);
    if (this.bLegs.every((l) => l.done)) {
      const best = this.bestFailure ?? { status: 480, reason: "Temporarily Unavailable" };
      this.fail(best.status, best.reason, `callee answered ${best.status}`);
    }
  }

  /** RFC 3261 §16.7 step 6, simplified: 6xx beats all, then 486 (busy), then the lowest class. */
  private noteFailure(status: number, reason: string): void {
    const rank = (s: number) => (s >= 600 ? 0 : s === 486 ? 1 : s === 487 ? 9 : s === 408 ? 8 : s === 503 ? 7 : 2 + Math.floor(s / 100));
    if (!this.bestFailure || rank(status) < rank(this.bestFailure.status)) this.bestFailure = { status, reason };
  }

  // ---------------------------------------------------------------- caller side

  private aResponse(status: number, reason: string): SipResponse {
    const res = createResponse(this.invite, status, reason, { toTag: this.a.dialog.localTag });
    if (status < 300 && status > 100) setHeader(res, "contact", this.contactFor(this.a, this.called));
    return res;
  }

  withBody(res: SipResponse | SipRequest, sdp: string): void {
    res.body = Buffer.from(sdp);
    setHeader(res, "content-type", "application/sdp");
  }

  /** Put `from`'s SDP, rewritten and shaped for `to`, into a message for `to`. */
  sdpTo(to: Leg, msg: SipResponse | SipRequest, sdp: string, from: CallSide): void {
    const out = this.sdpFor(to.net, from, sdp);
    if (out === null) return; // the side cannot take it: send without SDP rather than offend it
    to.lastSdp = out;
    this.withBody(msg, out);
  }

  /** The caller sent CANCEL before an answer (§9.2): the layer already said 200 to it. */
  private onCallerCancel(): void {
    if (this.state !== "trying" && this.state !== "ringing") return;
    this.log.info("caller cancelled");
    this.inviteTx.respond(this.aResponse(487, "Request Terminated"));
    this.end("cancelled", "missed");
  }

  private onRingTimeout(): void {
    if (this.state !== "trying" && this.state !== "ringing") return;
    this.log.info({ timeout_ms: this.host.ringTimeoutMs }, "no answer");
    this.inviteTx.respond(this.aResponse(480, "Temporarily Unavailable"));
    this.end("no answer", "missed");
  }

  private fail(status: number, reason: string, why: string, event?: CallEvent["type"]): void {
    if (this.state === "ended") return;
    this.inviteTx.respond(this.aResponse(status, reason));
    this.log.info({ status, why }, "call failed");
    this.end(why, event ?? (status === 486 || status === 600 || status === 603 ? "rejected" : "missed"), `${status} ${reason}`);
  }

  /** A side sent no RTP or RTCP for the media timeout while not on hold: that phone (or line) is gone. */
  private onMediaTimeout(side?: CallSide): void {
    if (this.state !== "answered") return;
    const who = side === "a" ? "caller" : side === "b" ? "callee" : "either side";
    this.log.warn({ side }, `no media from the ${who}: hanging up`);
    this.hangup(side ? `media timeout (${who})` : "media timeout");
  }

  // ---------------------------------------------------------------- in-dialog requests

  /** ACK from a leg's peer: the end of an INVITE (initial or re-INVITE) with a 2xx. */
  onAck(leg: Leg, ack: SipRequest): void {
    if (leg.side === "a" && this.awaitingAck && !this.mid.busy) {
      this.awaitingAck = false;
      if (this.pendingAckToB && this.winner) {
        this.pendingAckToB = false;
        this.sendAck(this.winner, ack.body.length > 0 ? this.answer.answerFor(this.winner, "a", ack.body.toString("utf8"), this.bOffer) : undefined);
      }
      return;
    }
    this.mid.onAck(leg, ack);
  }

  /** Any request inside one of this call's dialogs except ACK and CANCEL. */
  onRequest(leg: Leg, req: SipRequest, tx: ServerTransaction): void {
    if (!leg.dialog.acceptRemoteSeq(req)) {
      tx.respond(createResponse(req, 500, "Server Internal Error"));
      return;
    }
    if (req.method === "BYE") return this.onBye(leg, req, tx);
    if (leg.net.absorb?.(leg, req, tx, leg.lastSdp)) return;
    const other = this.otherLeg(leg);
    if (!other && leg === this.a && (this.state === "trying" || this.state === "ringing") && onEarlyRequest(this.early, leg, req, tx)) return;
    if (!other || this.state === "ended") {
      tx.respond(createResponse(req, 481, "Call/Transaction Does Not Exist"));
      return;
    }
    if (req.method === "INVITE" && (this.state !== "answered" || this.awaitingAck)) {
      // §14.2: a re-INVITE while the initial INVITE is still open gets 491.
      tx.respond(createResponse(req, 491, "Request Pending"));
      return;
    }
    this.mid.onRequest(leg, other, req, tx);
  }

  private onBye(leg: Leg, req: SipRequest, tx: ServerTransaction): void {
    tx.respond(createResponse(req, 200, "OK"));
    if (leg.side === "b" && leg !== this.winner) return; // a losing fork hung up: nothing else to do
    this.log.info({ by: leg.side === "a" ? "caller" : "callee" }, "hangup");
    if (this.state === "trying" || this.state === "ringing") {
      // BYE before the 2xx (only legal from the caller after an early dialog, §15): end like CANCEL.
      this.inviteTx.respond(this.aResponse(487, "Request Terminated"));
      return this.end("caller hung up before answer", "missed");
    }
    const other = this.otherLeg(leg);
    if (other) this.sendBye(other);
    this.end(leg.side === "a" ? "caller hung up" : "callee hung up", "ended");
  }

  otherLeg(leg: Leg): Leg | undefined {
    return leg.side === "a" ? this.winner : this.a;
  }

  // ---------------------------------------------------------------- sending

  sendAck(leg: Leg, sdp?: string, seq?: number): void {
    const ack = leg.dialog.createRequest("ACK", {
      contact: this.contactToward(leg),
      seq: seq ?? cseq((leg as BLeg).invite ?? this.invite).seq,
      body: sdp ? Buffer.from(sdp) : undefined,
    });
    leg.net.tx.sendAck(ack, leg.peer);
  }

  private sendBye(leg: Leg): void {
    if (leg === this.winner) this.ackWinnerBeforeBye();
    const bye = leg.dialog.createRequest("BYE", { contact: this.contactToward(leg) });
    leg.net.tx.sendRequest(bye, leg.peer, {
      onResponse: () => undefined,
      onTimeout: () => this.log.debug({ side: leg.side }, "BYE timed out"),
      onTransportError: () => undefined,
    });
  }

  /**
   * Late offer: the winner's 2xx carried an offer and its ACK waits for the caller's answer.
   * When the call ends first (the caller's BYE before its ACK, no ACK at all), the winner
   * still gets its ACK before the BYE, or it retransmits its 2xx for 64·T1. RFC 3261
   * §13.2.2.4: the ACK for a 2xx with an offer carries an answer, even from a UAC about to
   * hang up; one refusing every stream (ports 0) is the answer that starts no media.
   */
  private ackWinnerBeforeBye(): void {
    if (!this.pendingAckToB || !this.winner) return;
    this.pendingAckToB = false;
    this.sendAck(this.winner, this.bOffer === undefined ? undefined : refuseAll(this.bOffer, this.winner.net.host));
  }

  private cancelBLeg(leg: BLeg): void {
    if (leg.done) return;
    leg.cancelled = true;
    leg.net.tx.cancel(leg.tx);
  }

  /** End the call from our side (command, media timeout, shutdown): BYE or CANCEL everything. */
  hangup(reason: string): void {
    if (this.state === "ended") return;
    if (this.state === "trying" || this.state === "ringing") {
      this.inviteTx.respond(this.aResponse(480, "Temporarily Unavailable"));
      return this.end(reason, "missed");
    }
    this.sendBye(this.a);
    if (this.winner) this.sendBye(this.winner);
    this.end(reason, "ended");
  }

  private end(reason: string, type: CallEvent["type"], detail?: string): void {
    if (this.state === "ended") return;
    const wasAnswered = this.state === "answered";
    this.state = "ended";
    this.endReason = reason;
    this.host.clock.clearTimeout(this.ringTimer);
    for (const leg of this.bLegs) if (!leg.done) this.cancelBLeg(leg);
    this.a.net.onEnded?.(this.a);
    if (this.winner) this.winner.net.onEnded?.(this.winner);
    const stats = this.media.release(reason);
    const ev = this.event(wasAnswered ? "ended" : type);
    ev.reason = detail ?? reason;
    if (wasAnswered && this.answeredAt !== undefined) ev.duration_s = Math.round((this.host.clock.now() - this.answeredAt) / 1000);
    if (wasAnswered) ev.quality = this.media.quality?.();
    this.log.info({ reason, duration_s: ev.duration_s, media: stats }, "call ended");
    this.host.callEvent(ev);
    // Keep dialogs filed briefly so late retransmissions (BYE, 2xx) still find them; the PBX sweeps.
    this.host.ended(this);
  }

  /** Whether one of this call's live legs talks to `peer` (a phone's address). */
  usesPeer(peer: Endpoint): boolean {
    const same = (e: Endpoint) => e.address === peer.address && e.port === peer.port;
    if (same(this.a.peer)) return true;
    // While ringing, one device of several going away is no reason to end the call.
    return this.winner !== undefined && same(this.winner.peer);
  }

  /**
   * A phone's flow moved (its NAT mapping changed and it re-registered from `to`): requests
   * to its legs (BYE, re-INVITE, ACK) follow it, or they would go to a mapping that no
   * longer reaches it and the phone would stay "in call" after the other side hung up; and
   * the relay relearns where its media comes from.
   */
  retarget(from: Endpoint, to: Endpoint): void {
    const same = (e: Endpoint) => e.address === from.address && e.port === from.port;
    for (const leg of [this.a, ...this.bLegs]) {
      if (leg.net !== this.host.lan || !same(leg.peer)) continue;
      leg.peer = { address: to.address, port: to.port };
      // Its RTP comes from a new NAT mapping too: the relay learns the new source again.
      if (this.state === "answered" && (leg === this.a || leg === this.winner)) this.media.peerMoved?.(leg.side);
      this.log.info({ side: leg.side, from: `${from.address}:${from.port}`, to: `${to.address}:${to.port}` }, "phone moved: its requests and media follow");
    }
  }

  /** Every dialog key this call filed, so the PBX can drop them after the call. */
  dialogKeys(): string[] {
    return [this.a.dialog.key, ...this.bLegs.map((l) => l.dialog.key)];
  }

  /** For `hikari-gw status`. */
  summary(): Record<string, unknown> {
    return {
      call_id: this.id,
      state: this.state,
      direction: this.direction,
      from: this.caller.number,
      to: this.called,
      extension: this.extension,
      since: new Date(this.answeredAt ?? this.startedAt).toISOString(),
      reason: this.endReason || undefined,
    };
  }

  private event(type: CallEvent["type"]): CallEvent {
    return {
      type,
      call_id: this.id,
      direction: this.direction,
      from: this.caller.number,
      to: this.called,
      extension: this.extension,
      at: new Date(this.host.clock.now()).toISOString(),
    };
  }
}
