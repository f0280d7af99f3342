/**
 * Non-INVITE client transaction, the I/O half (RFC 3261 §17.1.2): sends and retransmits
 * the request and hands responses to its ClientTransactionUser. The machine is in
 * non-invite-client-fsm.ts.
 */
import type { Endpoint, SipRequest, SipResponse } from "../message/types.js";
import { serializeMessage } from "../message/index.js";
import {
  nonInviteClientInput,
  nonInviteClientStart,
  type NonInviteClientInput,
  type NonInviteClientMachine,
  type NonInviteClientState,
  type NonInviteClientTimer,
} from "./non-invite-client-fsm.js";
import { TimedTransaction, type ClientTransaction, type ClientTransactionUser, type TransactionContext } from "./transaction.js";

export class NonInviteClientTransaction extends TimedTransaction<NonInviteClientTimer> implements ClientTransaction, NonInviteClientMachine {
  readonly kind = "client" as const;
  state: NonInviteClientState = "trying";
  intervalE = 0;
  private readonly wire: Buffer;

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

  get method(): string {
    return this.request.method;
  }

  /** Enter Trying: send the request and start E and F. */
  start(): void {
    this.ctx.transport.sendRaw(this.wire, this.destination, this.sendError);
    nonInviteClientStart(this);
  }

  receiveResponse(res: SipResponse): void {
    this.input({ kind: "response", res });
  }

  abort(): void {
    if (this.state !== "terminated") this.transition("terminated");
  }

  // --- Machine -------------------------------------------------------------------------

  transition(to: NonInviteClientState): void {
    const from = this.state;
    if (from === to) return;
    if (from === "terminated") throw new Error(`non-invite client transaction: illegal ${from} → ${to}`);
    this.state = to;
    if (to === "terminated") {
      this.stopAllTimers();
      this.ctx.terminated(this);
      if (this.user.onTerminated) this.ctx.guard("onTerminated", () => this.user.onTerminated!(this));
    }
  }

  retransmitRequest(): void {
    this.ctx.transport.sendRaw(this.wire, this.destination, this.sendError);
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
