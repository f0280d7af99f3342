/**
 * Click-to-dial (Asterisk's originate, the FRITZ!Box's dialling help): the gateway rings an
 * extension's devices first, forked as for an inbound call, with From showing the number it
 * will call ("Dial 0312345678" <sip:0312345678@gateway>); when one answers, the call to the
 * number goes on as that extension's own call, through the dialplan exactly as if it had
 * dialled it (pbx.ts hands the answered leg to a Call, originated-invite.ts). This file is
 * the first part: ringing the extension, until it answers or the attempt ends.
 *
 * Why this shape (RFC 3725's third-party call control, with the relay as the anchor):
 * - The first offer is ours: the relay's port for the extension's side (gateway-offer.ts), so
 *   the extension's 2xx carries its answer and is ACKed at once (RFC 3261 §13.2.2.4).
 *   RFC 3725 flow I (an INVITE without SDP, the ACK held until the number answers) would
 *   leave the phone's 2xx unACKed for as long as the number rings; the phone gives up after
 *   64·T1 = 32 s (§13.3.1.4), less than a ring timeout.
 * - The extension's answer is then the offer toward the number, an early offer in the
 *   INVITE as the NGN wants it (docs/ngn.md), rewritten by the relay onto its other port:
 *   the Call does that exactly as for a number a phone dialled. The far end's answer only
 *   tells the relay where that side's media goes. The extension's SDP never has to change,
 *   since the relay's port toward it stays the same (RFC 3264 §8: no new offer is needed),
 *   so there is no re-INVITE toward the phone and no late offer toward the line.
 */
import type { Clock, TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import type { ActiveCall, CallEvent } from "../events.js";
import type { SipResponse } from "../sip/message/types.js";
import { cseq } from "../sip/message/index.js";
import type { CallMedia } from "./call-media.js";
import type { BLeg, CallControl, CallParty, CallTarget, SipSide } from "./call-types.js";
import { CallStateMachine, type CallStatus } from "./call-state.js";
import { CalleeLeg, type BLegUser } from "./call-b-leg.js";
import { Forks } from "./call-forks.js";
import { callEvent, callSummary, type CallFacts } from "./call-report.js";
import { ANSWERED_ELSEWHERE, causeFor, q850Reason, sipReason } from "./call-reason.js";
import { lingeringBLegUser, quietUser } from "./call-linger.js";
import type { Header } from "../sip/message/types.js";

/** What an originated call needs from the PBX that owns it. */
export interface OriginateHost {
  readonly lan: SipSide;
  readonly clock: Clock;
  readonly log: Logger;
  readonly ringTimeoutMs: number;
  callEvent(ev: CallEvent): void;
  /** The extension answered on `leg` (ACKed), its SDP answer `sdp`: the call to the number starts. */
  answered(o: Originate, leg: BLeg, sdp: string, media: CallMedia): void;
  /** It ended before the extension answered: forget it. */
  ended(o: Originate): void;
}

export interface OriginatePlan {
  /** The call id, the same for the whole call (the events, the call list, `hangup`). */
  id: string;
  /** The extension that rings first, and on whose behalf the number is dialled. */
  extension: CallParty;
  /** The number as the dialplan routed it. */
  called: string;
  direction: "internal" | "outbound";
}

export class Originate implements CallControl, CallFacts {
  readonly id: string;
  readonly caller: CallParty;
  readonly called: string;
  readonly direction: "internal" | "outbound";
  readonly startedAt: number;
  readonly holdBy = undefined;
  readonly log: Logger;
  private readonly fsm: CallStateMachine;
  private readonly forks = new Forks();
  private media?: CallMedia;
  private ringTimer?: TimerHandle;
  private endReason = "";
  /** The last SDP each device sent in a provisional: its answer when the 2xx repeats none (RFC 3262 §5). */
  private readonly earlySdp = new Map<BLeg, string>();
  private readonly user: BLegUser = {
    onResponse: (leg, res) => this.onResponse(leg, res),
    onFailure: (leg, status, reason) => this.onFailure(leg, status, reason),
  };

  constructor(
    private readonly host: OriginateHost,
    plan: OriginatePlan,
  ) {
    this.id = plan.id;
    this.caller = plan.extension;
    this.called = plan.called;
    this.direction = plan.direction;
    this.startedAt = host.clock.now();
    this.log = host.log.child({ call_id: this.id });
    this.fsm = new CallStateMachine(this.log);
    // The call is the extension's outgoing call from the start: the line shows it dialling.
    this.host.callEvent(this.event("outgoing"));
    this.log.info({ extension: this.caller.number, to: this.called, direction: this.direction }, "click-to-dial: ringing the extension first");
  }

  get status(): CallStatus {
    return this.fsm.status;
  }

  get extension(): string {
    return this.caller.number;
  }

  /** Our Contact (and From) in the extension's dialogs: the number it is about to call. */
  private get contact(): string {
    return `<sip:${this.called}@${this.host.lan.host}:${this.host.lan.port}>`;
  }

  /** The media is ready: ring every device of the extension in parallel with the relay's offer. */
  ring(media: CallMedia, devices: CallTarget[]): void {
    if (this.fsm.ended) {
      media.release("click-to-dial ended before ringing");
      return;
    }
    this.media = media;
    const offer = media.offer?.("a", this.host.lan.host);
    if (offer === undefined) return this.end("click-to-dial needs the media relay, which is not running");
    if (devices.length === 0) return this.end(`extension ${this.caller.number} is not registered any more`);
    const lan = this.host.lan;
    // From names the number (and "Dial <number>" as its display name): the phone shows what it will call.
    const shown: CallParty = { number: this.called, name: `Dial ${this.called}` };
    for (const target of devices) {
      const leg = new CalleeLeg(this, { target, side: lan, lan, caller: shown, offer: Buffer.from(offer), maxForwards: 70 }, this.user);
      this.forks.add(leg);
    }
    this.ringTimer = this.host.clock.setTimeout(() => this.onRingTimeout(), this.host.ringTimeoutMs);
    this.log.info({ devices: devices.map((d) => d.label) }, "click-to-dial: extension ringing");
  }

  private onResponse(leg: BLeg, res: SipResponse): void {
    if (res.status < 200) {
      if (res.status === 100) return;
      leg.dialog.learnFromResponse(res);
      if (res.body.length > 0) this.earlySdp.set(leg, res.body.toString("utf8"));
      if (this.fsm.state === "trying") this.fsm.transition("early");
      return;
    }
    if (res.status < 300) return this.onAnswer(leg, res);
    this.onFailure(leg, res.status, res.reason);
  }

  private onAnswer(leg: BLeg, res: SipResponse): void {
    const wasConfirmed = leg.dialog.state === "confirmed";
    leg.dialog.learnFromResponse(res);
    leg.final ??= { status: res.status, reason: res.reason };
    // Every 2xx gets its ACK from us, the UAC (§13.2.2.4), a retransmission too.
    this.ack(leg);
    if (!this.fsm.ringing) {
      // A second device answered after the first (a forking race), or the attempt is over.
      if (!wasConfirmed) this.bye(leg, [ANSWERED_ELSEWHERE]);
      return;
    }
    this.host.clock.clearTimeout(this.ringTimer);
    this.forks.cancelRinging(leg, [ANSWERED_ELSEWHERE]);
    this.fsm.transition("accepted");
    this.fsm.transition("confirmed");
    const sdp = res.body.length > 0 ? res.body.toString("utf8") : this.earlySdp.get(leg);
    if (sdp === undefined) {
      // RFC 3264 §5: our INVITE made an offer, so its 2xx (or a reliable provisional) answers it.
      this.bye(leg, [sipReason(488, "Not Acceptable Here")]);
      return this.end("the extension answered without SDP");
    }
    this.log.info({ device: leg.target.label }, "click-to-dial: the extension answered; calling the number");
    this.releaseLegs();
    const media = this.media!;
    this.media = undefined;
    this.host.answered(this, leg, sdp, media);
  }

  private onFailure(leg: BLeg, status: number, reason: string): void {
    if (leg.final) return;
    leg.final = { status, reason };
    if (!this.fsm.ringing) return;
    const heard = this.forks.failed(leg, status, reason);
    // "801 answered 486 Busy Here": no status first, so the call list says `failed`, not the number's `busy`.
    if (heard) this.end(`extension ${this.caller.number} answered ${heard.status} ${heard.reason}`);
  }

  private onRingTimeout(): void {
    if (!this.fsm.ringing) return;
    this.log.info({ timeout_ms: this.host.ringTimeoutMs }, "click-to-dial: the extension did not answer");
    this.end(`no answer at extension ${this.caller.number}`);
  }

  /** `hangup` while the extension rings (a command, shutdown): CANCEL its devices. */
  hangup(reason: string): void {
    if (this.fsm.ended) return;
    this.end(reason, [q850Reason(causeFor(reason), reason)]);
  }

  /** Never answered here, so never timed out: the media timeout belongs to the call that follows. */
  mediaTimedOut(): void {}

  private ack(leg: BLeg): void {
    const ack = leg.dialog.createRequest("ACK", { contact: this.contact, seq: cseq(leg.invite).seq });
    leg.net.tx.sendAck(ack, leg.peer);
  }

  private bye(leg: BLeg, reason: Header[]): void {
    const bye = leg.dialog.createRequest("BYE", { contact: this.contact, headers: reason });
    leg.net.tx.sendRequest(bye, leg.peer, quietUser(this.log, "a"));
  }

  /**
   * It ended before the extension answered: nothing was dialled. Reported as a `rejected`
   * outgoing call whose reason names the extension, so the call list says `failed` and the
   * missed-call count (inbound calls only) does not move.
   */
  private end(reason: string, cancelReason: Header[] = []): void {
    if (this.fsm.ended) return;
    this.fsm.transition("terminated");
    this.endReason = reason;
    this.host.clock.clearTimeout(this.ringTimer);
    this.forks.cancelRinging(undefined, cancelReason);
    this.media?.release(reason);
    this.media = undefined;
    const ev = this.event("rejected");
    ev.reason = reason;
    this.log.info({ reason }, "click-to-dial ended before the number was dialled");
    this.host.callEvent(ev);
    this.releaseLegs();
    this.host.ended(this);
  }

  /**
   * The devices' INVITE transactions outlive this attempt (Timer D, 2xx retransmissions): they
   * keep only a hook that ACKs a 2xx (and BYEs a device that answered too late), so the
   * attempt itself is garbage at once (call-linger.ts).
   */
  private releaseLegs(): void {
    for (const leg of this.forks.legs) {
      if (leg.tx.state === "terminated") continue;
      leg.tx.rehome(lingeringBLegUser({ dialog: leg.dialog, tx: leg.net.tx, peer: leg.peer, contact: this.contact, seq: cseq(leg.invite).seq, log: this.host.log }));
    }
    this.earlySdp.clear();
  }

  /** Its line in `hikari-gw status` while the extension rings. */
  summary(): ActiveCall {
    return callSummary(this, this.endReason || undefined);
  }

  private event(type: CallEvent["type"]): CallEvent {
    const ev = callEvent(this, type, this.host.clock.now());
    ev.extension = this.caller.number;
    return ev;
  }
}
