/**
 * Non-INVITE client transaction, the I/O half (RFC 3261 §17.1.2): sends and retransmits
 * the request and hands responses to its ClientTransactionUser. The machine is in
 * non-invite-client-fsm.ts.
 */
import type { SipResponse } from "../message/types.js";
import {
  nonInviteClientInput,
  nonInviteClientStart,
  type NonInviteClientInput,
  type NonInviteClientMachine,
  type NonInviteClientState,
  type NonInviteClientTimer,
} from "./non-invite-client-fsm.js";
import { ClientTransactionBase } from "./client-transaction.js";

export class NonInviteClientTransaction extends ClientTransactionBase<NonInviteClientTimer, NonInviteClientState> implements NonInviteClientMachine {
  state: NonInviteClientState = "trying";
  intervalE = 0;

  /** Enter Trying: send the request and start E and F. */
  start(): void {
    this.ctx.transport.sendRaw(this.wire, this.destination, this.sendError);
    nonInviteClientStart(this);
  }

  receiveResponse(res: SipResponse): void {
    this.input({ kind: "response", res });
  }

  protected override entered(to: NonInviteClientState): void {
    // §17.1.2.2 Completed (Timer K) only absorbs retransmitted responses: nothing is sent again.
    if (to === "completed") this.releaseRequest();
  }

  protected onTimer(t: NonInviteClientTimer): void {
    this.input({ kind: "timer", timer: t });
  }

  protected transportFailed(err: Error): void {
    this.input({ kind: "transportError", err });
  }

  private input(i: NonInviteClientInput): void {
    nonInviteClientInput(this, i);
  }
}
