/**
 * INVITE client transaction, the I/O half (RFC 3261 §17.1.1): sends and retransmits the
 * INVITE, builds and sends the ACK for 300–699 itself (§17.1.1.3; a 2xx ACK is the TU's,
 * §13.2.2.4), and hands responses to its ClientTransactionUser. The machine is in
 * invite-client-fsm.ts.
 */
import type { Endpoint, Header, SipRequest, SipResponse } from "../message/types.js";
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
import { TimedTransaction, type ClientTransaction, type ClientTransactionUser, type TransactionContext } from "./transaction.js";

export class InviteClientTransaction extends TimedTransaction<InviteClientTimer> implements ClientTransaction, InviteClientMachine {
  readonly kind = "client" as const;
  readonly method = "INVITE";
  state: InviteClientState = "calling";
  intervalA = 0;
  private readonly wire: Buffer;
  private ack: { to: string; wire: Buffer } | undefined;
  /** Set by the layer when a CANCEL waits for the first provisional (§9.1). */
  pendingCancel: Header[] | undefined;
  /** Called once on entering Proceeding (the layer sends a queued CANCEL then). */
  onProceeding: (() => void) | undefined;

  constructor(
    ctx: TransactionContext,
    readonly key: string,
    readonly branch: string,
    readonly request: SipRequest,
    readonly destination: Endpoint,
    private readonly user: ClientTransactionUser,
  ) {
    super(ctx);
    this.wire = serializeMessage(request);
  }

  /** Enter Calling: send the INVITE and start A and B. */
  start(): void {
    this.ctx.transport.sendRaw(this.wire, this.destination, this.sendError);
    inviteClientStart(this);
  }

  receiveResponse(res: SipResponse): void {
    this.input({ kind: "response", res });
  }

  /** Stop everything now (layer close). */
  abort(): void {
    if (this.state !== "terminated") this.transition("terminated");
  }

  // --- Machine -------------------------------------------------------------------------

  transition(to: InviteClientState): void {
    const from = this.state;
    if (from === to) return;
    if (from === "terminated") throw new Error(`invite client transaction: illegal ${from} → ${to}`);
    this.state = to;
    if (to === "terminated") {
      this.stopAllTimers();
      this.ctx.terminated(this);
      if (this.user.onTerminated) this.ctx.guard("onTerminated", () => this.user.onTerminated!(this));
    } else if (to === "proceeding" && this.onProceeding) {
      const f = this.onProceeding;
      this.onProceeding = undefined;
      f();
    }
  }

  retransmitRequest(): void {
    this.ctx.transport.sendRaw(this.wire, this.destination, this.sendError);
  }

  sendAck(res: SipResponse): void {
    const to = header(res, "to") ?? "";
    // Built once and reused for retransmitted finals (same To, so the same ACK).
    if (!this.ack || this.ack.to !== to) this.ack = { to, wire: serializeMessage(deriveRequest(this.request, "ACK", to)) };
    this.ctx.transport.sendRaw(this.ack.wire, this.destination, this.sendError);
  }

  passToTU(res: SipResponse): void {
    this.ctx.guard("onResponse", () => this.user.onResponse(res, this));
  }

  timeoutToTU(): void {
    this.ctx.guard("onTimeout", () => this.user.onTimeout(this));
  }

  transportErrorToTU(err: Error): void {
    this.ctx.guard("onTransportError", () => this.user.onTransportError(this, err));
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
