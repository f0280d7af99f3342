/**
 * The answer to the caller's offer across a B2BUA's two legs (RFC 3264 offer/answer, RFC
 * 3262 reliable provisionals): which callee's SDP answers the caller, whether that answer
 * already reached the caller reliably, and its shape for the caller (the caller's m-lines,
 * §6). The call asks it at each provisional and at the 2xx.
 */
import type { Logger } from "../log.js";
import type { SipRequest, SipResponse } from "../sip/message/types.js";
import { getHeaders } from "../sip/message/index.js";
import type { CallSide } from "./call-media.js";
import type { BLeg, Leg, SipSide } from "./call-types.js";
import { shapeAnswer } from "./answer-shape.js";

/** What the answer bookkeeping needs from its call (read when used: the call builds its legs later). */
export interface CallerAnswerPort {
  a(): Leg;
  /** The caller's INVITE had no SDP: the callee's SDP is then an offer, not an answer. */
  lateOffer(): boolean;
  callerOffer(): string;
  log(): Logger;
  sdpFor(to: SipSide, from: CallSide, sdp: string): string | null;
  sdpTo(to: Leg, msg: SipResponse | SipRequest, sdp: string, from: CallSide): void;
  withBody(msg: SipResponse | SipRequest, sdp: string): void;
}

export class CallerAnswer {
  /** The last SDP each B leg sent in a provisional: its early answer (RFC 3262), which the 2xx may not repeat. */
  private readonly earlySdp = new Map<BLeg, string>();
  /** The B leg whose early answer went to the caller in a reliable provisional (RFC 3262 §3). */
  private reliableFrom?: BLeg;

  constructor(private readonly call: CallerAnswerPort) {}

  /** A provisional from a B leg: remember its SDP, the early answer. */
  noteEarly(leg: BLeg, res: SipResponse): void {
    if (res.body.length > 0) this.earlySdp.set(leg, res.body.toString("utf8"));
  }

  /** Our provisional to the caller is going out, as the caller's side shaped it (reliable or not). */
  sentProvisional(leg: BLeg, reply: SipResponse): void {
    if (reply.body.length > 0 && !this.call.lateOffer() && isReliable(reply)) this.reliableFrom = leg;
  }

  /**
   * A B leg's SDP into a provisional or 2xx for the caller: with an early offer it is the
   * answer to the caller's INVITE, so it takes that offer's m-lines (RFC 3264 §6); with a
   * late offer it is the callee's offer and passes as it is.
   */
  fromB(msg: SipResponse, sdp: string): void {
    const a = this.call.a();
    if (this.call.lateOffer()) return this.call.sdpTo(a, msg, sdp, "b");
    const out = this.answerFor(a, "b", sdp, this.call.callerOffer());
    if (out === undefined) return; // the caller's side cannot take it: send without SDP rather than offend it
    a.lastSdp = out;
    this.call.withBody(msg, out);
  }

  /**
   * A 2xx without SDP on an early-offer call: the callee gave its answer in a provisional
   * (reliably, RFC 3262 §5: the 2xx then carries none). The caller must get the answer in a
   * reliable message too (RFC 3261 §13.2.1): unless our own provisional that carried this
   * leg's answer was reliable, the answer goes (again) into our 2xx, rewritten for the caller.
   */
  earlyInto(ok: SipResponse, leg: BLeg): void {
    const early = this.earlySdp.get(leg);
    if (this.call.lateOffer() || early === undefined) return;
    if (this.reliableFrom === leg) return;
    if (this.reliableFrom) {
      // Another fork's answer already reached the caller reliably; a second answer is not allowed.
      this.call.log().warn({ device: leg.target.label }, "the caller holds another device's early answer: 200 sent without SDP");
      return;
    }
    this.fromB(ok, early);
  }

  /**
   * `from`'s answer rewritten for `to`, with as many m-lines as `offer` (what `to`'s peer
   * offered), in its order, type and transport: lines the other side never saw (the NGN is
   * offered audio only) come back with port 0 (RFC 3264 §6). Undefined: `to` cannot take it.
   */
  answerFor(to: Leg, from: CallSide, sdp: string, offer: string | undefined): string | undefined {
    const out = this.call.sdpFor(to.net, from, sdp);
    if (out === null) return undefined;
    return offer ? shapeAnswer(offer, out) : out;
  }
}

/** A provisional sent reliably: it carries Require: 100rel (RFC 3262 §3). */
function isReliable(res: SipResponse): boolean {
  return getHeaders(res, "require").some((v) => /(^|,)\s*100rel\s*($|,)/i.test(v));
}
