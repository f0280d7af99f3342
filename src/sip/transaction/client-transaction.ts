/**
 * What both client transactions (RFC 3261 §17.1.1 INVITE, §17.1.2 non-INVITE) share: the
 * request sent once as bytes and retransmitted from them, the state transition guard, and
 * the hand-over to their ClientTransactionUser (responses, Timer B/F as timeout = 408,
 * transport errors = 503, §8.1.3.1). Each machine's own rules stay in its subclass.
 */
import type { Endpoint, Header, SipRequest, SipResponse, SipUri } from "../message/types.js";
import { serializeMessage } from "../message/index.js";
import { TimedTransaction, type ClientTransaction, type ClientTransactionUser, type TransactionContext } from "./transaction.js";

export abstract class ClientTransactionBase<T extends string, S extends string> extends TimedTransaction<T> implements ClientTransaction {
  readonly kind = "client" as const;
  abstract state: S;
  protected wire: Buffer;
  private settled = false;
  readonly method: string;

  constructor(
    ctx: TransactionContext,
    readonly key: string,
    readonly branch: string,
    public request: SipRequest,
    readonly destination: Endpoint,
    protected user: ClientTransactionUser,
  ) {
    super(ctx);
    this.method = request.method;
    this.wire = serializeMessage(request);
  }

  /**
   * Nothing is sent from the request any more (an INVITE's Accepted or Completed with its ACK
   * built, a non-INVITE's Completed: they only absorb or pass up responses, for up to 64·T1):
   * the parsed request and its bytes go; `request` is a stand-in with the method only.
   */
  protected releaseRequest(): void {
    this.request = { kind: "request", method: this.method, uri: RELEASED_URI, version: "SIP/2.0", headers: NO_HEADERS, body: EMPTY };
    this.wire = EMPTY;
  }

  /**
   * Hand the rest of the transaction (an INVITE's Accepted state: 2xx retransmissions for
   * 64·T1, RFC 6026 §8.4) to another user: the TU that started it is gone and must not
   * stay reachable through its hooks for that long.
   */
  rehome(user: ClientTransactionUser): void {
    this.user = user;
  }

  /** Stop everything now (layer close). */
  abort(): void {
    if ((this.state as string) !== "terminated") this.transition("terminated" as S);
  }

  /** Guarded move between RFC states; Terminated is final and tells the layer and the TU. */
  transition(to: S): void {
    if (!this.legalMove(this.state, to, `${this.method} client`)) return;
    this.state = to;
    if ((to as string) === "terminated") this.enterTerminated(this.user.onTerminated ? () => this.user.onTerminated!(this) : undefined);
    this.entered(to);
  }

  /** Hook for what a machine does on entering a state (the INVITE one: a queued CANCEL). */
  protected entered(_to: S): void {}

  retransmitRequest(): void {
    this.ctx.transport.sendRaw(this.wire, this.destination, this.sendError);
  }

  passToTU(res: SipResponse): void {
    if (res.status >= 200) this.settle();
    this.ctx.guard("onResponse", () => this.user.onResponse(res, this));
  }

  timeoutToTU(): void {
    this.settle();
    this.ctx.guard("onTimeout", () => this.user.onTimeout(this));
  }

  transportErrorToTU(err: Error): void {
    this.settle();
    this.ctx.guard("onTransportError", () => this.user.onTransportError(this, err));
  }

  /** Tells the layer once (2xx retransmissions in Accepted pass to the TU again: RFC 6026 §8.4). */
  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.ctx.clientSettled?.(this);
  }
}

const EMPTY = Buffer.alloc(0);
const NO_HEADERS = Object.freeze([]) as unknown as Header[];
const RELEASED_URI: SipUri = Object.freeze({ scheme: "sip", host: "released.invalid", params: new Map(), headers: new Map() }) as SipUri;
