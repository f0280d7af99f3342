/**
 * INVITE server transaction, the I/O half (RFC 3261 §17.2.1 with RFC 6026 §7.1): sends
 * the TU's responses to the request's source, answers retransmitted INVITEs with the last
 * response, retransmits a 300–699 on Timer G until the ACK. The machine is in
 * invite-server-fsm.ts; 2xx retransmission (§13.3.1.4) is the layer's (ack-2xx.ts). Once
 * Accepted or Confirmed it only absorbs retransmissions, which the layer takes over from a
 * small record (settled-invites.ts): the object then lives only as long as its TU holds it.
 */
import type { Endpoint, SipRequest, SipResponse } from "../message/types.js";
import { serializeMessage } from "../message/index.js";
import { header, skeleton, tagOf } from "./message-view.js";
import {
  inviteServerInput,
  type InviteServerInput,
  type InviteServerMachine,
  type InviteServerState,
  type InviteServerTimer,
} from "./invite-server-fsm.js";
import { Retired, TimedTransaction, type ServerTransaction, type TransactionContext } from "./transaction.js";

export class InviteServerTransaction extends TimedTransaction<InviteServerTimer> implements ServerTransaction, InviteServerMachine {
  readonly kind = "server" as const;
  readonly method = "INVITE";
  private st: InviteServerState = "proceeding";
  /** Set once the layer absorbs its retransmissions (layer.ts retireInvite): Timer L's or I's due time. */
  private retirement: Retired | undefined;
  intervalG = 0;
  lastResponse: SipResponse | undefined;
  private lastWire: Buffer | undefined;
  onCancel?: (cancel: SipRequest) => void;
  onAck?: (ack: SipRequest) => void;
  onNoAck?: () => void;
  onTransportError?: (err: Error) => void;
  onTerminated?: () => void;

  constructor(
    ctx: TransactionContext,
    readonly key: string,
    public request: SipRequest,
    readonly source: Endpoint,
    readonly responseDestination: Endpoint,
    /** The layer's hook for a 2xx just sent (starts its retransmission, §13.3.1.4). */
    private readonly sent2xx: (tx: InviteServerTransaction, res: SipResponse, wire: Buffer) => void,
  ) {
    super(ctx);
  }

  /** After retirement, Terminated once Timer L's (or I's) time has come (nothing fires for it). */
  get state(): InviteServerState {
    if ((this.st === "accepted" || this.st === "confirmed") && this.retirement?.over) return "terminated";
    return this.st;
  }

  /** Our responses' To tag ("" before any response with one). */
  get toTag(): string {
    return tagOf(header(this.lastResponse ?? this.request, "to"));
  }

  get requestToTag(): string {
    return tagOf(header(this.request, "to"));
  }

  /** The layer took over absorbing retransmissions until `until` (Timer L or I). */
  retired(until: number, now: () => number): void {
    this.stopAllTimers();
    this.retirement = new Retired(until, now);
  }

  respond(res: SipResponse): void {
    this.input({ kind: "tuResponse", res });
  }

  /** A retransmission of the INVITE matched this transaction. */
  receiveRequest(): void {
    this.input({ kind: "request" });
  }

  receiveAck(ack: SipRequest): void {
    this.input({ kind: "ack", ack });
  }

  abort(): void {
    if (this.state !== "terminated") this.transition("terminated");
  }

  // --- Machine -------------------------------------------------------------------------

  transition(to: InviteServerState): void {
    if (!this.legalMove(this.state, to, "invite server")) return;
    this.st = to;
    if (to === "terminated") this.enterTerminated(this.onTerminated);
  }

  sendResponse(res: SipResponse): void {
    const wire = serializeMessage(res);
    this.lastResponse = res;
    this.lastWire = wire;
    this.ctx.transport.sendRaw(wire, this.responseDestination, this.sendError);
    if (res.status >= 200 && res.status < 300) {
      this.sent2xx(this, res, wire);
      // Accepted for 64·T1 only absorbs retransmitted INVITEs and sends the TU's 2xx: the
      // parsed INVITE and 2xx (SDP, every header) need not stay for that long.
      this.request = skeleton(this.request);
      this.lastResponse = skeleton(res);
    }
  }

  resendLastResponse(): void {
    if (this.lastWire) this.ctx.transport.sendRaw(this.lastWire, this.responseDestination, this.sendError);
  }

  ackToTU(ack: SipRequest): void {
    if (this.onAck) this.ctx.guard("onAck", () => this.onAck!(ack));
  }

  noAckToTU(): void {
    if (this.onNoAck) this.ctx.guard("onNoAck", () => this.onNoAck!());
  }

  transportErrorToTU(err: Error): void {
    if (this.onTransportError) this.ctx.guard("onTransportError", () => this.onTransportError!(err));
  }

  refused(res: SipResponse): void {
    this.ctx.log.warn({ state: this.state, status: res.status }, "invite server transaction: response not allowed in this state, dropped");
  }

  protected onTimer(t: InviteServerTimer): void {
    this.input({ kind: "timer", timer: t });
  }

  protected transportFailed(err: Error): void {
    this.input({ kind: "transportError", err });
  }

  private input(i: InviteServerInput): void {
    const before = this.st;
    inviteServerInput(this, i);
    // Accepted or Confirmed just now: nothing more to send from here, only to absorb.
    if (this.st !== before && (this.st === "accepted" || this.st === "confirmed") && this.retirement === undefined) this.ctx.retireInvite?.(this);
  }
}
