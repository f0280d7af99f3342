/**
 * What is left of a call once it ended: only what RFC 3261 needs while retransmissions and
 * late requests may still arrive (64·T1), never the call, its legs' SDP, its media or its
 * closures. At hundreds of calls a second the call itself would stay reachable for 32 s
 * each, which a 1 GB board cannot hold.
 * - A dialog key of the call answers late in-dialog requests the way the ended call did:
 *   BYE gets 200 (the peer's BYE crossed ours, §15.1.2), anything else 481 (§12.2.2).
 * - A B leg's INVITE client transaction stays in Accepted (RFC 6026 §8.4) forwarding 2xx
 *   retransmissions: it keeps one hook that ACKs them (§13.2.2.4) and BYEs a fork that
 *   answered only after the call was over.
 */
import type { Logger } from "../log.js";
import type { Endpoint, SipRequest, SipResponse } from "../sip/message/types.js";
import { createResponse } from "../sip/message/index.js";
import type { Dialog } from "../sip/dialog/dialog.js";
import type { ClientTransactionUser, ServerTransaction, TransactionLayer } from "../sip/transaction/layer.js";

/** One ended call's dialogs, shared by its keys in the PBX's dialog table. */
export interface LingeringDialog {
  readonly lingering: true;
  /**
   * Late offer only: the caller's ACK still carries the answer the callee's held ACK
   * waits for (the callee hung up before the caller's ACK). Absent on every other call.
   */
  readonly onAck?: (ack: SipRequest) => void;
}

/** A request in a dialog of an ended call (§12.2.2, §15.1.2). */
export function answerLingering(req: SipRequest, tx: ServerTransaction): void {
  if (req.method === "BYE") tx.respond(createResponse(req, 200, "OK"));
  else tx.respond(createResponse(req, 481, "Call/Transaction Does Not Exist"));
}

/** What a B leg's INVITE transaction still needs after its call ended: copied, not the leg. */
export interface LingeringBLeg {
  readonly dialog: Dialog;
  readonly tx: TransactionLayer;
  readonly peer: Endpoint;
  /** Our Contact in this dialog. */
  readonly contact: string;
  /** The INVITE's CSeq number: the ACK's (§13.2.2.4). */
  readonly seq: number;
  readonly log: Logger;
}

/**
 * The hook a B leg's INVITE transaction keeps once its call ended: a 2xx (retransmitted,
 * or a fork answering after the call was over) is ACKed; a dialog it confirms only now is
 * BYEd at once, as the live call did. Everything else is over already.
 */
export function lingeringBLegUser(l: LingeringBLeg): ClientTransactionUser {
  return {
    onResponse: (res: SipResponse) => {
      if (res.status < 200 || res.status >= 300) return;
      const wasConfirmed = l.dialog.state === "confirmed";
      l.dialog.learnFromResponse(res);
      l.tx.sendAck(l.dialog.createRequest("ACK", { contact: l.contact, seq: l.seq }), l.peer);
      if (wasConfirmed) return;
      const bye = l.dialog.createRequest("BYE", { contact: l.contact });
      l.tx.sendRequest(bye, l.peer, quietUser(l.log));
    },
    onTimeout: () => undefined,
    onTransportError: () => undefined,
  };
}

/** Hooks for a BYE nobody waits on: they hold a logger, never the call. */
export function quietUser(log: Logger, side?: string): ClientTransactionUser {
  return {
    onResponse: () => undefined,
    onTimeout: () => log.debug({ side }, "BYE timed out"),
    onTransportError: () => undefined,
  };
}
