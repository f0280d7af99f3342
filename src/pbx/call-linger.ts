/**
 * What is left of a call once it ended: only what RFC 3261 needs while retransmissions and
 * late requests may still arrive (64·T1), never the call, its legs' SDP, its media or its
 * closures. At hundreds of calls a second the call itself would stay reachable for 32 s
 * each, which a 1 GB board cannot hold.
 * - A dialog key of the call answers late in-dialog requests the way the ended call did:
 *   BYE gets 200 (the peer's BYE crossed ours, §15.1.2), anything else 481 (§12.2.2).
 * - A B leg's INVITE client transaction stays in Accepted (RFC 6026 §8.4) forwarding 2xx
 *   retransmissions: it keeps one hook that ACKs them (§13.2.2.4) and BYEs a fork that
 *   answered only after the call was over (once: its 2xx again is only ACKed again). The hook holds an ACK's bytes as one string and
 *   a few short strings, not the leg's Dialog (its URIs, parameter Maps and route set).
 */
import type { Logger } from "../log.js";
import type { Endpoint, SipRequest, SipResponse } from "../sip/message/types.js";
import { createResponse, getHeader, parseMessage, serializeMessage, tagOf } from "../sip/message/index.js";
import { Dialog } from "../sip/dialog/dialog.js";
import type { ClientTransactionUser, ServerTransaction, TransactionLayer } from "../sip/transaction/layer.js";
import { flatString } from "../flat-string.js";

/** How many other forks' dialogs (§13.2.2.4) one B leg BYEs and remembers: a proxy forks to a few devices, not more. */
export const MAX_OTHER_FORKS = 16;

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
  /** The PBX's logger, not the call's child: the hook lingers 64·T1 and makes a child only if it BYEs. */
  readonly log: Logger;
  /** Tags of other forks' dialogs the live call already ACKed and BYEd on this leg. */
  readonly byed?: readonly string[];
}

/**
 * The hook a B leg's INVITE transaction keeps once its call ended: a 2xx (retransmitted,
 * or a fork answering after the call was over) is ACKed; a dialog it confirms only now is
 * BYEd at once, as the live call did. Everything else is over already.
 */
export function lingeringBLegUser(l: LingeringBLeg): ClientTransactionUser {
  // The ACK the leg's dialog makes now (for a confirmed leg, the one the call sent, less an
  // answer it may have carried): bytes of a fresh message, so no string of the call stays.
  const ack = serializeMessage(l.dialog.createRequest("ACK", { contact: l.contact, seq: l.seq })).toString("latin1");
  const confirmedTag = l.dialog.state === "confirmed" ? flatString(l.dialog.remoteTag) : "";
  const byed = l.byed?.length ? l.byed.map(flatString) : undefined;
  return new LingeringBLegUser(l.tx, { address: l.peer.address, port: l.peer.port }, ack, confirmedTag, flatString(l.contact), l.log, byed);
}

class LingeringBLegUser implements ClientTransactionUser {
  constructor(
    private readonly tx: TransactionLayer,
    private readonly peer: Endpoint,
    /** An ACK in the leg's dialog (no Via), one character per byte. */
    private readonly ack: string,
    /** The remote tag of the dialog the call confirmed ("" when none). */
    private readonly confirmedTag: string,
    /** Our Contact in the leg's dialog. */
    private readonly contact: string,
    private readonly log: Logger,
    /** Tags of the other forks' dialogs BYEd already (none on almost every call). */
    private byed: string[] | undefined,
  ) {}

  onResponse(res: SipResponse): void {
    if (res.status < 200 || res.status >= 300) return;
    const tag = tagOf(getHeader(res, "to"));
    if (!tag) return; // no dialog to ACK (§12.1.2)
    const ack = parseMessage(Buffer.from(this.ack, "latin1")) as SipRequest;
    // The confirmed dialog's 2xx again: our ACK was lost (§13.2.2.4), the same ACK again.
    if (tag === this.confirmedTag) return this.tx.sendAck(ack, this.peer);
    // A dialog this 2xx confirms only now (a fork answering after the call was over): its
    // own ACK, then a BYE at once (§13.2.2.4, §15); its 2xx again (our ACK was lost) only
    // the ACK again. Past MAX_OTHER_FORKS only ACKs: a peer inventing tags makes no state.
    const d = Dialog.asUac(ack, res);
    this.tx.sendAck(d.createRequest("ACK", { contact: this.contact, seq: d.localSeq }), this.peer);
    const byed = (this.byed ??= []);
    if (byed.includes(tag) || byed.length >= MAX_OTHER_FORKS) return;
    byed.push(flatString(tag));
    this.tx.sendRequest(d.createRequest("BYE", { contact: this.contact }), this.peer, quietUser(this.log.child({ call_id: d.callId })));
  }

  onTimeout(): void {}

  onTransportError(): void {}
}

/** Hooks for a BYE nobody waits on: they hold a logger, never the call. */
export function quietUser(log: Logger, side?: string): ClientTransactionUser {
  return new QuietUser(log, side);
}

class QuietUser implements ClientTransactionUser {
  constructor(
    private readonly log: Logger,
    private readonly side: string | undefined,
  ) {}

  onResponse(): void {}

  onTimeout(): void {
    this.log.debug({ side: this.side }, "BYE timed out");
  }

  onTransportError(): void {}
}
