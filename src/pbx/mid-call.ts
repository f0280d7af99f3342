/**
 * The answered call's in-dialog traffic (RFC 3261 §12.2, §14): a request on one leg is
 * re-issued in the other leg's dialog and its final response mapped back, SDP rewritten
 * for the media on the way; re-INVITE glare gets 491 (§14.2); ACKs for relayed 2xx are
 * sent when the originator's ACK arrives (late offer carries the answer there); offers the
 * other side keeps to itself (the NGN) are answered here, as are methods it does not take.
 */
import sdpTransform from "sdp-transform";
import type { Logger } from "../log.js";
import type { SipRequest, SipResponse } from "../sip/message/types.js";
import { createResponse, cseq, getHeader, setHeader } from "../sip/message/index.js";
import type { ClientTransaction, ServerTransaction } from "../sip/transaction/layer.js";
import type { CallMedia, CallSide } from "./call-media.js";
import type { Leg, SipSide } from "./call-types.js";
import { shapeAnswer } from "./answer-shape.js";
import { answerOnThisSide, refreshAnswerHeaders, withDirection, withVersion } from "./mid-call-local.js";

/** What the mid-call relay needs from its call: a narrow port, not the call itself. */
export interface MidCallPort {
  readonly log: Logger;
  readonly media: CallMedia;
  /** The other leg of an answered call. */
  otherLeg(leg: Leg): Leg | undefined;
  /** The SDP `from`'s peer sent, rewritten for `to` (null: `to` cannot take it). */
  sdpFor(to: SipSide, from: CallSide, sdp: string): string | null;
  /** Put `from`'s SDP, rewritten for `to`, into a message for `to`. */
  sdpTo(to: Leg, msg: SipResponse | SipRequest, sdp: string, from: CallSide): void;
  withBody(msg: SipResponse | SipRequest, sdp: string): void;
  /** Our Contact toward a leg's peer. */
  contactToward(leg: Leg): string;
  sendAck(leg: Leg, sdp?: string, seq?: number): void;
  /** `from` sent SDP that stays here (absorbed): note its hold or resume for the call's story. */
  noteHold(from: CallSide, sdp: string): void;
}

/** A relayed in-dialog transaction waiting for the other leg's final response. */
interface PendingRelay {
  from: Leg;
  serverTx: ServerTransaction;
  method: string;
  /** The originator CANCELled it (re-INVITE only, RFC 3261 §9.2): it already got 487. */
  cancelled?: boolean;
  /** The SDP we had sent the other leg before this request (to re-offer after a CANCEL lost the race). */
  prevSdp?: string;
}

/** What a leg's peer can do with us in a dialog when its request is answered here. */
const IN_DIALOG_ALLOW = "INVITE, ACK, CANCEL, BYE, UPDATE, INFO, OPTIONS, PRACK";
/** RFC 4028 headers: a side with its own session timer never sees the other leg's. */
const TIMER_HEADERS = new Set(["session-expires", "min-se", "require", "supported"]);


export class MidCall {
  /** re-INVITE in progress, per originating side (glare → 491). */
  private reinvite?: { from: Leg; answered: boolean; toOtherAckPending: boolean; toOtherSeq?: number };
  /** A body-less re-INVITE answered here with our SDP as the offer: its ACK carries the answer. */
  private localOffer?: Leg;
  private infoDtmfLogged = false;
  private referLogged = false;

  constructor(private readonly call: MidCallPort) {}

  /** Whether an INVITE transaction is open on the call (then a new re-INVITE gets 491). */
  get busy(): boolean {
    return this.reinvite !== undefined;
  }

  /** An in-dialog request (not ACK, CANCEL or BYE) on an answered call's leg. */
  onRequest(leg: Leg, other: Leg, req: SipRequest, tx: ServerTransaction): void {
    if (other.net.relays && !other.net.relays(req.method)) return this.answerHere(leg, req, tx);
    if (req.method === "REFER" && !(leg.net.transfers && other.net.transfers)) {
      // RFC 3515 §2.4.2: a REFER the recipient will not act on gets a 4xx. Relayed, the phone
      // would dial the Refer-To (a premium number) through the line: never across the trunk,
      // and between extensions only with pbx.allow_transfer.
      if (!this.referLogged) this.call.log.warn({ from: leg.net.name, to: other.net.name }, "REFER refused: transfers are not allowed on this call");
      this.referLogged = true; // once per call: a peer repeating it must not fill the log
      return tx.respond(createResponse(req, 403, "Transfer Not Allowed"));
    }
    if (req.method === "INVITE") {
      if (this.reinvite) {
        // §14.2: a re-INVITE while another INVITE is pending on the dialog gets 491.
        tx.respond(createResponse(req, 491, "Request Pending"));
        return;
      }
      leg.dialog.refreshTarget(req);
      if (other.net.keepsOffers && leg.lastSdp) return this.answerLocally(leg, other, req, tx);
      this.reinvite = { from: leg, answered: false, toOtherAckPending: false };
      tx.onNoAck = () => {
        if (this.reinvite?.from === leg) this.reinvite = undefined;
      };
    } else if (req.method === "UPDATE" && other.net.keepsOffers && leg.lastSdp) {
      // A phone's UPDATE (a session refresh, or a hold) toward the NGN: the trunk leg keeps
      // its own timer and its own SDP, so the phone never hands the refresher role to us
      // behind that timer's back (RFC 4028 §7.4: either UA may refresh).
      return this.answerLocally(leg, other, req, tx);
    }
    this.relayRequest(leg, other, req, tx);
  }

  /** A request the other side must not get (`relays`), answered on this leg (see answerOnThisSide). */
  private answerHere(leg: Leg, req: SipRequest, tx: ServerTransaction): void {
    tx.respond(
      answerOnThisSide(req, leg.net.allow ?? IN_DIALOG_ALLOW, () => {
        if (this.infoDtmfLogged) return;
        this.infoDtmfLogged = true;
        this.call.log.info("SIP INFO DTMF is not carried to the line: set the phone to RFC 2833/4733 (RTP events)");
      }),
    );
  }

  /** The ACK for a relayed re-INVITE's 2xx. Returns false when it was not one. */
  onAck(leg: Leg, ack: SipRequest): boolean {
    if (this.localOffer === leg) {
      // The answer to the offer our local 200 made (RFC 3264): the relay learns it.
      this.localOffer = undefined;
      const other = this.call.otherLeg(leg);
      if (other && ack.body.length > 0) this.call.media.fromSide(leg.side, ack.body.toString("utf8"), other.net.host);
      return true;
    }
    const ri = this.reinvite;
    if (!ri || ri.from !== leg || !ri.answered) return false;
    const other = this.call.otherLeg(leg);
    if (other && ri.toOtherAckPending) {
      // The ACK completes the re-INVITE we sent the other leg: its CSeq, not the initial INVITE's (§13.2.2.4).
      this.call.sendAck(other, ack.body.length > 0 ? (this.call.sdpFor(other.net, leg.side, ack.body.toString("utf8")) ?? undefined) : undefined, ri.toOtherSeq);
    }
    this.reinvite = undefined;
    return true;
  }

  /**
   * A phone's re-INVITE or UPDATE on a call whose other side keeps its offers (the NGN):
   * hold/resume, or a session refresh. The relay already carries media, so an offer only
   * updates the relay (hold state, latching) and is answered here, leaving the trunk leg
   * untouched (issue: "absorb a phone's hold/resume re-INVITEs so the trunk leg stays
   * valid"). A re-INVITE without SDP gets our SDP as the offer; its ACK brings the answer.
   */
  private answerLocally(leg: Leg, other: Leg, req: SipRequest, tx: ServerTransaction): void {
    const ok = createResponse(req, 200, "OK");
    setHeader(ok, "contact", this.call.contactToward(leg));
    for (const h of refreshAnswerHeaders(req)) setHeader(ok, h.name, h.value);
    const isSdp = req.body.length > 0 && (getHeader(req, "content-type") ?? "application/sdp").toLowerCase().startsWith("application/sdp");
    let dir = "none";
    if (isSdp) {
      const offer = req.body.toString("utf8");
      this.call.noteHold(leg.side, offer);
      this.call.media.fromSide(leg.side, offer, other.net.host);
      dir = /^a=(sendonly|recvonly|inactive|sendrecv)\s*$/m.exec(offer)?.[1] ?? "sendrecv";
      const answerDir = dir === "sendonly" ? "recvonly" : dir === "recvonly" ? "sendonly" : dir;
      // The answer keeps the offer's m-lines (RFC 3264 §6): a phone adding video to a trunk
      // call gets it refused with port 0, not an answer with fewer lines than it offered.
      const answer = shapeAnswer(offer, withDirection(leg.lastSdp!, answerDir));
      leg.lastSdp = answer;
      this.call.withBody(ok, answer);
    } else if (req.method === "INVITE") {
      this.localOffer = leg;
      tx.onNoAck = () => {
        if (this.localOffer === leg) this.localOffer = undefined;
      };
      this.call.withBody(ok, leg.lastSdp!);
    }
    this.call.log.info({ method: req.method, direction: dir }, "in-dialog offer/refresh answered locally (the trunk leg is left as it is)");
    tx.respond(ok);
  }

  /** Forward an in-dialog request to the other leg and its final response back (B2BUA). */
  private relayRequest(from: Leg, to: Leg, req: SipRequest, serverTx: ServerTransaction): void {
    const pending: PendingRelay = { from, serverTx, method: req.method, prevSdp: to.lastSdp };
    const ownTimer = from.net.ownsSessionTimer || to.net.ownsSessionTimer;
    const passHeaders = req.headers.filter((h) => RELAYED_HEADERS.has(h.name) && !(ownTimer && TIMER_HEADERS.has(h.name)));
    let body = req.body;
    const ctype = getHeader(req, "content-type");
    if (body.length > 0 && (ctype ?? "").toLowerCase().startsWith("application/sdp")) {
      const sdp = this.call.sdpFor(to.net, from.side, body.toString("utf8"));
      if (sdp === null) {
        if (req.method === "INVITE") this.reinvite = undefined;
        serverTx.respond(createResponse(req, 488, "Not Acceptable Here", { toTag: from.dialog.localTag }));
        return;
      }
      to.lastSdp = sdp;
      body = Buffer.from(sdp);
    }
    const out = to.dialog.createRequest(req.method, {
      contact: this.call.contactToward(to),
      body,
      contentType: ctype,
      headers: passHeaders,
    });
    if (to.net.allow) setHeader(out, "allow", to.net.allow);
    const client = to.net.tx.sendRequest(out, to.peer, {
      onResponse: (res) => this.onRelayedResponse(pending, to, out, res),
      onTimeout: () => this.onRelayedFailure(pending, 408, "Request Timeout"),
      onTransportError: () => this.onRelayedFailure(pending, 503, "Service Unavailable"),
    });
    if (req.method === "INVITE") serverTx.onCancel = () => this.onRelayedCancel(pending, to, client);
  }

  /**
   * The originator CANCELled its re-INVITE (§9.2; the layer already said 200 to the CANCEL):
   * it gets 487 now and the CANCEL goes on to the other leg (§9.1). Should the other leg's
   * 2xx win the race, onRelayedResponse ACKs it and puts the old session back.
   */
  private onRelayedCancel(p: PendingRelay, to: Leg, client: ClientTransaction): void {
    if (p.cancelled) return;
    p.cancelled = true;
    p.serverTx.respond(createResponse(p.serverTx.request, 487, "Request Terminated", { toTag: p.from.dialog.localTag }));
    to.net.tx.cancel(client);
    this.call.log.info({ side: p.from.side }, "re-INVITE cancelled by its sender");
  }

  private onRelayedResponse(p: PendingRelay, to: Leg, sent: SipRequest, res: SipResponse): void {
    if (res.status === 100) return;
    if (p.cancelled) return this.afterCancel(p, to, sent, res);
    const reply = createResponse(p.serverTx.request, res.status, res.reason, { toTag: p.from.dialog.localTag });
    const ownTimer = p.from.net.ownsSessionTimer || to.net.ownsSessionTimer;
    for (const h of res.headers) if (RELAYED_HEADERS.has(h.name) && !(ownTimer && TIMER_HEADERS.has(h.name))) reply.headers.push({ ...h });
    if (p.from.net.allow && res.status >= 200 && res.status < 300) setHeader(reply, "allow", p.from.net.allow);
    if (res.body.length > 0) {
      const ctype = getHeader(res, "content-type") ?? "application/sdp";
      if (ctype.toLowerCase().startsWith("application/sdp")) this.call.sdpTo(p.from, reply, res.body.toString("utf8"), to.side);
      else {
        this.call.withBody(reply, res.body.toString("utf8"));
        setHeader(reply, "content-type", ctype);
      }
    }
    const ok = res.status >= 200 && res.status < 300;
    if (ok && (p.method === "INVITE" || p.method === "UPDATE")) {
      // Our 2xx states this side's own session timer (RFC 4028 §9), and counts as its refresh (§10).
      for (const h of p.from.net.answerHeaders?.(p.serverTx.request) ?? []) setHeader(reply, h.name, h.value);
      p.from.net.answeredRefresh?.(p.from, p.serverTx.request, reply);
    }
    if (p.method === "INVITE") {
      if (ok) {
        to.dialog.refreshTarget(res);
        setHeader(reply, "contact", this.call.contactToward(p.from));
        const ri = this.reinvite;
        // Early offer: ACK the other leg now. Late offer: its ACK carries the answer from the originator's ACK.
        if (sent.body.length > 0) this.call.sendAck(to, undefined, cseq(sent).seq);
        else if (ri) {
          ri.toOtherAckPending = true;
          ri.toOtherSeq = cseq(sent).seq;
        }
        if (ri) ri.answered = true;
        p.serverTx.respond(reply);
        return;
      }
      if (res.status >= 300) this.reinvite = undefined;
    }
    p.serverTx.respond(reply);
  }

  /**
   * The other leg's final response to a re-INVITE its sender CANCELled. A failure (487)
   * just ends it. A 2xx won the race (§9.1: CANCEL has no effect then): ACK it, then put the
   * old session back with a new offer of the SDP the leg had before (a higher version,
   * RFC 3264 §8), since the sender still holds the old one (§14.1: a failed re-INVITE leaves
   * the session as it was).
   */
  private afterCancel(p: PendingRelay, to: Leg, sent: SipRequest, res: SipResponse): void {
    if (res.status < 200) return;
    if (res.status >= 300) {
      this.reinvite = undefined;
      return;
    }
    to.dialog.refreshTarget(res);
    const lateOffer = sent.body.length === 0;
    // A late-offer 2xx carries an offer, and the ACK must carry an answer: the last SDP this leg had from us.
    this.call.sendAck(to, lateOffer ? p.prevSdp : undefined, cseq(sent).seq);
    if (lateOffer || !p.prevSdp || !to.lastSdp) {
      this.reinvite = undefined;
      return;
    }
    const restore = withVersion(p.prevSdp, Number(sdpTransform.parse(to.lastSdp).origin?.sessionVersion ?? 0) + 1);
    to.lastSdp = restore;
    const again = to.dialog.createRequest("INVITE", { contact: this.call.contactToward(to), body: Buffer.from(restore), contentType: "application/sdp" });
    const done = () => {
      if (this.reinvite?.from === p.from) this.reinvite = undefined;
    };
    this.call.log.info("a cancelled re-INVITE was answered anyway: offering the previous session again");
    to.net.tx.sendRequest(again, to.peer, {
      onResponse: (r) => {
        if (r.status < 200) return;
        if (r.status < 300) this.call.sendAck(to, undefined, cseq(again).seq);
        done();
      },
      onTimeout: done,
      onTransportError: done,
    });
  }

  private onRelayedFailure(p: PendingRelay, status: number, reason: string): void {
    if (p.method === "INVITE") this.reinvite = undefined;
    if (p.cancelled) return;
    p.serverTx.respond(createResponse(p.serverTx.request, status, reason, { toTag: p.from.dialog.localTag }));
  }

}

/** Headers a B2BUA passes between legs on relayed in-dialog requests and responses. */
const RELAYED_HEADERS = new Set(["session-expires", "min-se", "event", "subscription-state", "refer-to", "referred-by", "info-package", "content-disposition", "rseq", "rack", "supported", "require", "allow"]);
