/**
 * The caller's INVITE transaction of a call the gateway originated (click-to-dial), as the
 * Call sees it. The Call was written for a caller whose INVITE it answers; here the caller
 * (the extension) already answered OUR INVITE, and its dialog is confirmed by our ACK
 * (RFC 3261 §13.2.2.4). So what the Call would answer the caller becomes, on that dialog:
 * - a provisional: nothing (the far end's early media, a ringback tone, reaches the phone
 *   through the relay, which learnt both ends from the SDP);
 * - the 2xx: nothing to send (the phone's media already goes to the relay's port, which
 *   does not change: RFC 3264 §8 needs no new offer while the address stays), but the call
 *   is confirmed at once, since no ACK will come for a 2xx that never went out;
 * - a failure (the number busy, unreachable, no answer, refused): a BYE to the extension
 *   with the far end's status as its Reason (RFC 3326 §2: `SIP;cause=486;text="Busy Here"`),
 *   so the phone can say why the call it answered ended at once;
 * - 487: nothing; the Call sends it only when the caller itself ended the call (a BYE, §15).
 * It is not a transaction on the wire: there is nothing to retransmit, match or time out.
 */
import type { Logger } from "../log.js";
import type { Endpoint, SipRequest, SipResponse } from "../sip/message/types.js";
import type { Dialog } from "../sip/dialog/dialog.js";
import { formatNameAddr } from "../sip/message/index.js";
import type { ServerTransaction } from "../sip/transaction/layer.js";
import type { SipSide } from "./call-types.js";
import { sipReason } from "./call-reason.js";
import { quietUser } from "./call-linger.js";

export interface OriginatedCaller {
  /** The extension's dialog (ours as UAC) and the side it lives on. */
  readonly dialog: Dialog;
  readonly net: SipSide;
  /** Our Contact in that dialog. */
  readonly contact: string;
  /** Where the extension's device is now (its flow may move while the number rings). */
  peer(): Endpoint;
  readonly log: Logger;
}

export class OriginatedInvite implements ServerTransaction {
  readonly method = "INVITE";
  readonly key: string;
  readonly source: Endpoint;
  readonly responseDestination: Endpoint;
  private st: "proceeding" | "accepted" | "terminated" = "proceeding";
  lastResponse: SipResponse | undefined;
  onCancel?: (cancel: SipRequest) => void;
  onAck?: (ack: SipRequest) => void;
  onNoAck?: () => void;
  onTransportError?: (err: Error) => void;
  onTerminated?: () => void;
  /** Set by the PBX once the Call exists: the 2xx went "out", confirm the call. */
  onAnswered?: () => void;

  constructor(
    readonly request: SipRequest,
    private readonly caller: OriginatedCaller,
  ) {
    this.key = `originated ${caller.dialog.key}`;
    this.source = caller.peer();
    this.responseDestination = this.source;
  }

  get state(): string {
    return this.st;
  }

  respond(res: SipResponse): void {
    this.lastResponse = res;
    if (res.status < 200 || this.st !== "proceeding") return;
    if (res.status < 300) {
      this.st = "accepted";
      this.onAnswered?.();
      return;
    }
    this.st = "terminated";
    if (res.status === 487) return;
    const c = this.caller;
    const bye = c.dialog.createRequest("BYE", { contact: c.contact, headers: [sipReason(res.status, res.reason)] });
    c.log.info({ status: res.status, reason: res.reason }, "click-to-dial: the number failed; BYE to the extension");
    c.net.tx.sendRequest(bye, c.peer(), quietUser(c.log, "a"));
  }
}

/**
 * The INVITE the Call is built around for an originated call: what the extension would have
 * sent had it dialled `called` itself, with its answer `sdp` as the offer. Never sent: the
 * Call reads the offer, the call id and Max-Forwards from it, and builds its (unsent)
 * responses to the caller from its From, To, Call-ID and CSeq.
 */
export function callerInvite(id: string, dialog: Dialog, called: string, host: string, sdp: string): SipRequest {
  const ext = dialog.remoteUri;
  return {
    kind: "request",
    method: "INVITE",
    uri: { scheme: "sip", user: called, host, params: new Map(), headers: new Map() },
    version: "SIP/2.0",
    headers: [
      { name: "from", value: formatNameAddr({ ...ext, params: new Map([...ext.params, ["tag", dialog.remoteTag]]) }) },
      { name: "to", value: `<sip:${called}@${host}>` },
      { name: "call-id", value: id },
      { name: "cseq", value: "1 INVITE" },
      { name: "max-forwards", value: "70" },
      { name: "content-type", value: "application/sdp" },
    ],
    body: Buffer.from(sdp),
  };
}
