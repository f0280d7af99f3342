/**
 * INVITE client transaction, the I/O half (RFC 3261 §17.1.1): sends and retransmits the
 * INVITE, builds and sends the ACK for 300–699 itself (§17.1.1.3; a 2xx ACK is the TU's,
 * §13.2.2.4), and hands responses to its ClientTransactionUser. The machine is in
 * invite-client-fsm.ts.
 */
import type { Header, SipResponse } from "../message/types.js";
import { serializeMessage } from "../message/index.js";
import {
  inviteClientInput,
  inviteClientStart,
  type InviteClientInput,
  type InviteClientMachine,
  type InviteClientState,
  type InviteClientTimer,
} from "./invite-client-fsm.js";
import { deriveRequest, header } from "./message-view.js";
import { ClientTransactionBase } from "./client-transaction.js";

export class InviteClientTransaction extends ClientTransactionBase<InviteClientTimer, InviteClientState> implements InviteClientMachine {
  state: InviteClientState = "calling";
  intervalA = 0;
  private ack: { to: string; wire: Buffer } | undefined;
  private released = false;
  /** Set by the layer when a CANCEL waits for the first provisional (§9.1). */
  pendingCancel: Header[] | undefined;
  /** Called once on entering Proceeding (the layer sends a queued CANCEL then). */
  onProceeding: (() => void) | undefined;

  /** Enter Calling: send the INVITE and start A and B. */
  start(): void {
    this.ctx.transport.sendRaw(this.wire, this.destination, this.sendError);
    inviteClientStart(this);
  }

  receiveResponse(res: SipResponse): void {
    this.input({ kind: "response", res });
  }

  protected override entered(to: InviteClientState): void {
    if (to === "accepted") {
      // RFC 6026 §7.2: Accepted only passes 2xx up for 64·T1; nothing is sent from the
      // request again (the 2xx's ACK is the TU's, a CANCEL has no effect any more).
      this.releaseRequest();
      this.ack = undefined;
    }
    if (to === "proceeding" && this.onProceeding) {
      const f = this.onProceeding;
      this.onProceeding = undefined;
      f();
    }
  }

  sendAck(res: SipResponse): void {
    const to = header(res, "to") ?? "";
    // Built once and reused for retransmitted finals (same To, so the same ACK).
    if (!this.ack || (this.ack.to !== to && !this.released)) this.ack = { to, wire: serializeMessage(deriveRequest(this.request, "ACK", to)) };
    this.ctx.transport.sendRaw(this.ack.wire, this.destination, this.sendError);
    // Completed until Timer D (32 s) only ACKs retransmitted finals: the ACK is all it needs.
    if (this.state === "completed" && !this.released) {
      this.releaseRequest();
      this.released = true;
    }
  }

  protected onTimer(t: InviteClientTimer): void {
    this.input({ kind: "timer", timer: t });
  }

  protected transportFailed(err: Error): void {
    this.input({ kind: "transportError", err });
  }

  private input(i: InviteClientInput): void {
    inviteClientInput(this, i);
  }
}
