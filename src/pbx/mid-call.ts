/**
 * The answered call's in-dialog traffic (RFC 3261 §12.2, §14): a request on one leg is
 * re-issued in the other leg's dialog and its final response mapped back, SDP rewritten
 * for the media on the way; re-INVITE glare gets 491 (§14.2); ACKs for relayed 2xx are
 * sent when the originator's ACK arrives (late offer carries the answer there); offers the
 * other side keeps to itself (the NGN) are answered here.
 */
import sdpTransform from "sdp-transform";
import type { Logger } from "../log.js";
import type { SipRequest, SipResponse } from "../sip/message/types.js";
import { createResponse, cseq, getHeader, setHeader } from "../sip/message/index.js";
import type { ServerTransaction } from "../sip/transaction/layer.js";
import type { CallMedia, CallSide } from "./call-media.js";
import type { Leg, SipSide } from "./call-types.js";

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
}

/** A relayed in-dialog transaction waiting for the other leg's final response. */
interface PendingRelay {
  from: Leg;
  serverTx: ServerTransaction;
  method: string;
}


export class MidCall {
  /** re-INVITE in progress, per originating side (glare → 491). */
  private reinvite?: { from: Leg; answered: boolean; toOtherAckPending: boolean };

  constructor(private readonly call: MidCallPort) {}

  /** Whether an INVITE transaction is open on the call (then a new re-INVITE gets 491). */
  get busy(): boolean {
    return this.reinvite !== undefined;
  }

  /** An in-dialog request (not ACK, CANCEL or BYE) on an answered call's leg. */
  onRequest(leg: Leg, other: Leg, req: SipRequest, tx: ServerTransaction): void {
    if (req.method === "INVITE") {
      if (this.reinvite) {
        // §14.2: a re-INVITE while another INVITE is pending on the dialog gets 491.
        tx.respond(createResponse(req, 491, "Request Pending"));
        return;
      }
      leg.dialog.refreshTarget(req);
      if (other.net.keepsOffers && req.body.length > 0 && leg.lastSdp) return this.answerLocally(leg, other, req, tx);
      this.reinvite = { from: leg, answered: false, toOtherAckPending: false };
      tx.onNoAck = () => {
        if (this.reinvite?.from === leg) this.reinvite = undefined;
      };
    }
    this.relayRequest(leg, other, req, tx);
  }

  /** The ACK for a relayed re-INVITE's 2xx. Returns false when it was not one. */
  onAck(leg: Leg, ack: SipRequest): boolean {
    const ri = this.reinvite;
    if (!ri || ri.from !== leg || !ri.answered) return false;
    const other = this.call.otherLeg(leg);
    if (other && ri.toOtherAckPending) {
      this.call.sendAck(other, ack.body.length > 0 ? (this.call.sdpFor(other.net, leg.side, ack.body.toString("utf8")) ?? undefined) : undefined);
    }
    this.reinvite = undefined;
    return true;
  }

  /**
   * A phone's hold/resume re-INVITE on a call whose other side keeps its offers (the NGN):
   * the relay already carries media, so the offer only updates the relay (hold state,
   * latching) and is answered here, leaving the trunk leg untouched (issue: "absorb a
   * phone's hold/resume re-INVITEs so the trunk leg stays valid").
   */
  private answerLocally(leg: Leg, other: Leg, req: SipRequest, tx: ServerTransaction): void {
    const offer = req.body.toString("utf8");
    this.call.media.fromSide(leg.side, offer, other.net.host);
    const dir = /^a=(sendonly|recvonly|inactive|sendrecv)\s*$/m.exec(offer)?.[1] ?? "sendrecv";
    const answerDir = dir === "sendonly" ? "recvonly" : dir === "recvonly" ? "sendonly" : dir;
    const sdp = sdpTransform.parse(leg.lastSdp!);
    for (const m of sdp.media) if (m.type === "audio") m.direction = answerDir as "sendrecv";
    sdp.origin = { ...sdp.origin!, sessionVersion: Number(sdp.origin!.sessionVersion) + 1 };
    const answer = sdpTransform.write(sdp);
    leg.lastSdp = answer;
    const ok = createResponse(req, 200, "OK");
    setHeader(ok, "contact", this.call.contactToward(leg));
    this.call.withBody(ok, answer);
    this.call.log.info({ direction: dir }, "re-INVITE answered locally (the trunk leg is left as it is)");
    tx.respond(ok);
  }

  /** Forward an in-dialog request to the other leg and its final response back (B2BUA). */
  private relayRequest(from: Leg, to: Leg, req: SipRequest, serverTx: ServerTransaction): void {
    const pending: PendingRelay = { from, serverTx, method: req.method };
    const passHeaders = req.headers.filter((h) => RELAYED_HEADERS.has(h.name));
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
    to.net.tx.sendRequest(out, to.peer, {
      onResponse: (res) => this.onRelayedResponse(pending, to, out, res),
      onTimeout: () => this.onRelayedFailure(pending, 408, "Request Timeout"),
      onTransportError: () => this.onRelayedFailure(pending, 503, "Service Unavailable"),
    });
  }

  private onRelayedResponse(p: PendingRelay, to: Leg, sent: SipRequest, res: SipResponse): void {
    if (res.status === 100) return;
    const reply = createResponse(p.serverTx.request, res.status, res.reason, { toTag: p.from.dialog.localTag });
    for (const h of res.headers) if (RELAYED_HEADERS.has(h.name)) reply.headers.push({ ...h });
    if (res.body.length > 0) {
      const ctype = getHeader(res, "content-type") ?? "application/sdp";
      if (ctype.toLowerCase().startsWith("application/sdp")) this.call.sdpTo(p.from, reply, res.body.toString("utf8"), to.side);
      else {
        this.call.withBody(reply, res.body.toString("utf8"));
        setHeader(reply, "content-type", ctype);
      }
    }
    if (p.method === "INVITE") {
      if (res.status >= 200 && res.status < 300) {
        to.dialog.refreshTarget(res);
        setHeader(reply, "contact", this.call.contactToward(p.from));
        for (const h of p.from.net.answerHeaders?.(p.serverTx.request) ?? []) setHeader(reply, h.name, h.value);
        const ri = this.reinvite;
        // Early offer: ACK the other leg now. Late offer: its ACK carries the answer from the originator's ACK.
        if (sent.body.length > 0) this.call.sendAck(to, undefined, cseq(sent).seq);
        else if (ri) ri.toOtherAckPending = true;
        if (ri) ri.answered = true;
        p.serverTx.respond(reply);
        return;
      }
      if (res.status >= 300) this.reinvite = undefined;
    }
    p.serverTx.respond(reply);
  }

  private onRelayedFailure(p: PendingRelay, status: number, reason: string): void {
    if (p.method === "INVITE") this.reinvite = undefined;
    p.serverTx.respond(createResponse(p.serverTx.request, status, reason, { toTag: p.from.dialog.localTag }));
  }

}

/** Headers a B2BUA passes between legs on relayed in-dialog requests and responses. */
const RELAYED_HEADERS = new Set(["session-expires", "min-se", "event", "subscription-state", "refer-to", "referred-by", "info-package", "content-disposition", "rseq", "rack", "supported", "require", "allow"]);
