/**
 * Non-INVITE server transaction, the I/O half (RFC 3261 §17.2.2): sends the TU's
 * responses and answers request retransmissions with the last one until Timer J.
 * The machine is in non-invite-server-fsm.ts.
 */
import type { Endpoint, SipRequest, SipResponse } from "../message/types.js";
import { serializeMessage } from "../message/index.js";
import { header, tagOf } from "./message-view.js";
import {
  nonInviteServerInput,
  type NonInviteServerInput,
  type NonInviteServerMachine,
  type NonInviteServerState,
  type NonInviteServerTimer,
} from "./non-invite-server-fsm.js";
import { Retired, TimedTransaction, type ServerTransaction, type TransactionContext } from "./transaction.js";

export class NonInviteServerTransaction extends TimedTransaction<NonInviteServerTimer> implements ServerTransaction, NonInviteServerMachine {
  readonly kind = "server" as const;
  private st: NonInviteServerState = "trying";
  /** Set once the layer answers retransmissions for it (layer.ts retire): Timer J's due time. */
  private retirement: Retired | undefined;
  lastResponse: SipResponse | undefined;
  private lastWire: Buffer | undefined;
  /**
   * The request, released once the final response is sent: a completed transaction only
   * answers retransmissions (from lastWire) for 64·T1, and at thousands of REGISTER/s
   * keeping every parsed request for 32 s is what makes a SIP server's heap balloon (and
   * its GC stall: docs/testing.md "Benchmarks", Yate). Matching needs only the key and the To tag.
   */
  private req: SipRequest | undefined;
  readonly method: string;
  /** The request's To tag, for RFC 2543 fallback matching after the request is released. */
  readonly requestToTag: string;
  onCancel?: (cancel: SipRequest) => void;
  onTransportError?: (err: Error) => void;
  onTerminated?: () => void;

  constructor(
    ctx: TransactionContext,
    readonly key: string,
    request: SipRequest,
    readonly source: Endpoint,
    readonly responseDestination: Endpoint,
  ) {
    super(ctx);
    this.req = request;
    this.method = request.method;
    this.requestToTag = tagOf(header(request, "to"));
  }

  /** After retirement, Terminated once Timer J's time has come (nothing fires for it). */
  get state(): NonInviteServerState {
    if (this.st === "completed" && this.retirement?.over) return "terminated";
    return this.st;
  }

  /** The layer took over the Completed state until `until` (Timer J). */
  retired(until: number, now: () => number): void {
    this.stopTimer("J");
    this.retirement = new Retired(until, now);
  }

  get request(): SipRequest {
    if (!this.req) throw new Error(`${this.method} server transaction: the request was released after the final response`);
    return this.req;
  }

  respond(res: SipResponse): void {
    this.input({ kind: "tuResponse", res });
  }

  receiveRequest(): void {
    this.input({ kind: "request" });
  }

  abort(): void {
    if (this.state !== "terminated") this.transition("terminated");
  }

  // --- Machine -------------------------------------------------------------------------

  transition(to: NonInviteServerState): void {
    if (!this.legalMove(this.state, to, "non-invite server")) return;
    this.st = to;
    if (to === "terminated") this.enterTerminated(this.onTerminated);
  }

  sendResponse(res: SipResponse): void {
    const wire = serializeMessage(res);
    this.lastWire = wire;
    if (res.status >= 200) {
      // Completed: only the wire form is needed from here on.
      this.lastResponse = undefined;
      this.req = undefined;
    } else this.lastResponse = res;
    this.ctx.transport.sendRaw(wire, this.responseDestination, this.sendError);
    if (res.status >= 200 && this.ctx.retire) this.ctx.retire(this, wire);
  }

  resendLastResponse(): void {
    if (this.lastWire) this.ctx.transport.sendRaw(this.lastWire, this.responseDestination, this.sendError);
  }

  transportErrorToTU(err: Error): void {
    if (this.onTransportError) this.ctx.guard("onTransportError", () => this.onTransportError!(err));
  }

  refused(res: SipResponse): void {
    this.ctx.log.warn({ state: this.state, status: res.status, method: this.method }, "server transaction: response after the final one, dropped");
  }

  protected onTimer(t: NonInviteServerTimer): void {
    this.input({ kind: "timer", timer: t });
  }

  protected transportFailed(err: Error): void {
    this.input({ kind: "transportError", err });
  }

  private input(i: NonInviteServerInput): void {
    nonInviteServerInput(this, i);
  }
}
