/**
 * A call's legs and what goes out on them: the caller's leg ("a"), the B legs ringing in
 * parallel and the one that answered, our Contact and the media's SDP toward each, the ACKs
 * and BYEs the call sends in their dialogs (RFC 3261 §12.2.1.1, §13.2.2.4, §15.1.1), and
 * where each leg's peer is now (a phone's NAT'ed flow that moves). The mid-call relay works
 * through it, never through the call.
 */
import type { Logger } from "../log.js";
import type { Endpoint, Header, SipRequest, SipResponse } from "../sip/message/types.js";
import { cseq, sameEndpoint, setHeader } from "../sip/message/index.js";
import { Dialog } from "../sip/dialog/dialog.js";
import type { CallMedia, CallSide } from "./call-media.js";
import type { BLeg, CallParty, Leg, SipSide } from "./call-types.js";
import type { MidCallPort } from "./mid-call.js";
import { refuseAll } from "./answer-shape.js";
import { CalleeLeg } from "./call-b-leg.js";
import { Forks } from "./call-forks.js";
import { sdpMediaTarget } from "../media/sdp.js";
import { MAX_OTHER_FORKS, lingeringBLegUser, quietUser } from "./call-linger.js";
import { ANSWERED_ELSEWHERE } from "./call-reason.js";

/** Who talks to whom: the caller, and the number it called. */
export interface CallParties {
  readonly caller: CallParty;
  readonly called: string;
}

export class CallLegs implements MidCallPort {
  readonly forks = new Forks();
  /** The B leg that answered first: the call's other leg from then on. */
  winner?: BLeg;
  /**
   * Late offer: the winner's ACK, held until the caller's ACK brings the answer to the offer
   * its 2xx made (`offer`; §13.2.2.4: that ACK must carry the answer).
   */
  heldAck?: { offer: string | undefined };
  /** Which side's phone holds the call (its last SDP was sendonly, inactive or c=0.0.0.0, RFC 3264 §8.4). */
  readonly onHold: Record<CallSide, boolean> = { a: false, b: false };
  /** The side that put the call on hold, while it is. */
  holdBy?: CallSide;
  /**
   * Dialogs other forks' 2xx made on B legs whose own dialog was confirmed (§13.2.2.4), by
   * leg and the fork's tag: the ACK each got, sent again for a retransmission.
   */
  private otherForks?: Map<Leg, Map<string, SipRequest>>;

  constructor(
    readonly a: Leg,
    /** The caller's INVITE. */
    private readonly invite: SipRequest,
    private readonly parties: CallParties,
    /** The LAN side: the only one where phones (and their flows) move. */
    private readonly lan: SipSide,
    readonly log: Logger,
    readonly media: CallMedia,
    /** The PBX's logger, for what outlives the call (call-linger.ts). */
    private readonly hostLog: Logger = log,
  ) {}

  /** The other leg of an answered call (for a B leg: the caller's). */
  otherLeg(leg: Leg): Leg | undefined {
    return leg.side === "a" ? this.winner : this.a;
  }

  /** Our Contact toward a leg's peer: it names the party on the other side (callee toward the caller). */
  contactToward(leg: Leg): string {
    const user = leg.contactUser ?? (leg.side === "a" ? this.parties.called : this.parties.caller.number);
    return `<sip:${user}@${leg.net.host}:${leg.net.port}>`;
  }

  /** SDP from `from`'s peer, rewritten by the media and shaped for `to` (null: `to` cannot take it). */
  sdpFor(to: SipSide, from: CallSide, sdp: string): string | null {
    this.noteHold(from, sdp);
    // A callee that ends the media here (the answering machine) talks to the caller's peer
    // directly: the offer it gets, and every SDP once it answered, skip the relay.
    const direct = to.terminatesMedia === true || this.winner?.net.terminatesMedia === true;
    const out = direct ? sdp : this.media.fromSide(from, sdp, to.host);
    return to.shapeSdp ? to.shapeSdp(out) : out;
  }

  /** Holds and resumes are part of the call's story in the log (once per change, not per re-INVITE). */
  noteHold(from: CallSide, sdp: string): void {
    const hold = sdpMediaTarget(sdp)?.hold;
    if (hold === undefined || hold === this.onHold[from]) return;
    this.onHold[from] = hold;
    // The answer to a hold offer may say inactive or sendonly too (RFC 3264 §6.1): the side
    // that held first is the holder, not the one answering it.
    const other: CallSide = from === "a" ? "b" : "a";
    if (hold && this.holdBy === undefined) this.holdBy = from;
    else if (!hold && this.holdBy === from) this.holdBy = this.onHold[other] ? other : undefined;
    else return;
    this.log.info({ by: from === "a" ? "caller" : "callee" }, hold ? "call on hold" : "call resumed");
  }

  withBody(msg: SipResponse | SipRequest, sdp: string): void {
    msg.body = Buffer.from(sdp);
    setHeader(msg, "content-type", "application/sdp");
  }

  /** Put `from`'s SDP, rewritten and shaped for `to`, into a message for `to`. */
  sdpTo(to: Leg, msg: SipResponse | SipRequest, sdp: string, from: CallSide): void {
    const out = this.sdpFor(to.net, from, sdp);
    if (out === null) return; // the side cannot take it: send without SDP rather than offend it
    to.lastSdp = out;
    this.withBody(msg, out);
  }

  /** ACK in a leg's dialog: for its INVITE's 2xx unless `seq` names a re-INVITE's (§13.2.2.4). */
  sendAck(leg: Leg, sdp?: string, seq?: number): void {
    const ack = leg.dialog.createRequest("ACK", {
      contact: this.contactToward(leg),
      seq: seq ?? cseq(leg instanceof CalleeLeg ? leg.invite : this.invite).seq,
      body: sdp ? Buffer.from(sdp) : undefined,
    });
    leg.net.tx.sendAck(ack, leg.peer);
  }

  /** BYE in a leg's dialog, with `reason` (RFC 3326 Reason headers) when the call knows why. */
  sendBye(leg: Leg, reason: Header[] = []): void {
    if (leg === this.winner) this.ackWinnerBeforeBye();
    const bye = leg.dialog.createRequest("BYE", { contact: this.contactToward(leg), headers: reason });
    // Its hooks outlive the call (Timer F, 64·T1): they must not hold the leg or the call.
    leg.net.tx.sendRequest(bye, leg.peer, quietUser(this.log, leg.side));
  }

  /**
   * A 2xx with another To tag on a B leg whose dialog is already confirmed: a proxy
   * downstream forked our INVITE and another device answered too. RFC 3261 §13.2.2.4: that
   * 2xx makes a separate dialog, which the UAC ACKs and, wanting only one, ends with a BYE;
   * the leg's own dialog (its tag, remote target, route set) does not change. A
   * retransmission of that 2xx gets the same ACK again, not a second BYE. Past
   * MAX_OTHER_FORKS a 2xx is only ACKed: a peer inventing tags makes no state here.
   */
  otherFork(leg: BLeg, res: SipResponse, tag: string): void {
    const sent = this.otherForks?.get(leg)?.get(tag);
    if (sent) return leg.net.tx.sendAck(sent, leg.peer);
    const fork = Dialog.asUac(leg.invite, res);
    const contact = this.contactToward(leg);
    // Late offer: the fork's 2xx made an offer, and its ACK must answer it: refusing every stream.
    const offer = leg.invite.body.length === 0 && res.body.length > 0 ? res.body.toString("utf8") : undefined;
    const ack = fork.createRequest("ACK", { contact, seq: cseq(leg.invite).seq, body: offer === undefined ? undefined : Buffer.from(refuseAll(offer, leg.net.host)) });
    leg.net.tx.sendAck(ack, leg.peer);
    const all = (this.otherForks ??= new Map());
    const forks = all.get(leg) ?? new Map<string, SipRequest>();
    if (forks.size >= MAX_OTHER_FORKS) return;
    all.set(leg, forks.set(tag, ack));
    this.log.info({ side: leg.side }, "another fork answered too: ACKed and BYEd in its own dialog");
    leg.net.tx.sendRequest(fork.createRequest("BYE", { contact, headers: [ANSWERED_ELSEWHERE] }), leg.peer, quietUser(this.log, leg.side));
  }

  /** Whether `tag` names another fork's dialog on `leg` that otherFork() ACKed and BYEd. */
  isOtherFork(leg: Leg, tag: string): boolean {
    return this.otherForks?.get(leg)?.has(tag) === true;
  }

  /**
   * The call ended: every B leg's INVITE transaction keeps only a hook that ACKs (and, for a
   * late fork, BYEs) a 2xx, with copies of what that needs (the tags of forks already BYEd
   * among them); the legs, their SDP and the call become garbage while the transactions
   * linger (call-linger.ts).
   */
  release(): void {
    for (const leg of this.forks.legs) {
      if (leg.tx.state === "terminated") continue;
      leg.tx.rehome(lingeringBLegUser({ dialog: leg.dialog, tx: leg.net.tx, peer: leg.peer, contact: this.contactToward(leg), seq: cseq(leg.invite).seq, log: this.hostLog, byed: [...(this.otherForks?.get(leg)?.keys() ?? [])] }));
    }
  }

  /**
   * Late offer: the winner's 2xx carried an offer and its ACK waits for the caller's answer.
   * When the call ends first (the caller's BYE before its ACK, no ACK at all), the winner
   * still gets its ACK before the BYE, or it retransmits its 2xx for 64·T1. RFC 3261
   * §13.2.2.4: the ACK for a 2xx with an offer carries an answer, even from a UAC about to
   * hang up; one refusing every stream (ports 0) is the answer that starts no media.
   */
  private ackWinnerBeforeBye(): void {
    const held = this.heldAck;
    if (!held || !this.winner) return;
    this.heldAck = undefined;
    this.sendAck(this.winner, held.offer === undefined ? undefined : refuseAll(held.offer, this.winner.net.host));
  }

  /** Whether one of the call's live legs talks to `peer` (a phone's address). */
  usesPeer(peer: Endpoint): boolean {
    if (sameEndpoint(this.a.peer, peer)) return true;
    // While ringing, one device of several going away is no reason to end the call.
    return this.winner !== undefined && sameEndpoint(this.winner.peer, peer);
  }

  /**
   * A phone's flow moved (its NAT mapping changed and it re-registered from `to`): requests
   * to its legs (BYE, re-INVITE, ACK) follow it, or they would go to a mapping that no
   * longer reaches it and the phone would stay "in call" after the other side hung up; and,
   * on an answered call, the relay relearns where its media comes from.
   */
  retarget(from: Endpoint, to: Endpoint, answered: boolean): void {
    for (const leg of [this.a, ...this.forks.legs]) {
      if (leg.net !== this.lan || !sameEndpoint(leg.peer, from)) continue;
      leg.peer = { address: to.address, port: to.port };
      // Its RTP comes from a new NAT mapping too: the relay learns the new source again.
      if (answered && (leg === this.a || leg === this.winner)) this.media.peerMoved?.(leg.side);
      this.log.info({ side: leg.side, from: `${from.address}:${from.port}`, to: `${to.address}:${to.port}` }, "phone moved: its requests and media follow");
    }
  }

  /** Every dialog key the call filed, so the PBX can drop them after the call. */
  dialogKeys(): string[] {
    return [this.a.dialog.key, ...this.forks.legs.map((l) => l.dialog.key)];
  }
}
