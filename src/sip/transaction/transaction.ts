/**
 * What the four transaction machines share: the context the layer hands them, their
 * public faces (ClientTransaction, ServerTransaction, ClientTransactionUser, the SIP.js
 * wording: timeout = 408, transport error = 503), and timer bookkeeping on the wheel.
 */
import type { Logger } from "../../log.js";
import type { Endpoint, SipRequest, SipResponse } from "../message/types.js";
import type { Transport } from "../transport.js";
import type { TimerDurations } from "./timer-values.js";
import type { TimerWheel, WheelTimer } from "./timer-wheel.js";

export interface TransactionContext {
  readonly transport: Transport;
  readonly wheel: TimerWheel;
  readonly durations: TimerDurations;
  readonly log: Logger;
  /** The layer forgets a transaction that reached Terminated. */
  terminated(tx: TransactionRef): void;
  /** Run a TU callback: a throw is logged, never spread (it would kill the process). */
  guard(what: string, f: () => void): void;
  /**
   * A non-INVITE server transaction sent its final response (§17.2.2 Completed): the layer
   * may take over answering retransmissions from `wire` until Timer J and drop the object.
   */
  retire?(tx: RetiringServerTransaction, wire: Buffer): void;
  /**
   * An INVITE server transaction reached Accepted (its 2xx sent, RFC 6026 §7.1) or Confirmed
   * (the ACK for its 300–699 came, §17.2.1): from now on it only absorbs retransmissions, and
   * the layer may do that from a small record until Timer L or I and drop the object.
   */
  retireInvite?(tx: RetiringInviteServerTransaction): void;
  /**
   * A client transaction is settled: its first final response, its timeout or its transport
   * error reached the TU. Once per transaction, whoever its user is by then (rehome).
   */
  clientSettled?(tx: ClientTransaction): void;
}

/** What the layer needs from a completed non-INVITE server transaction to retire it. */
/**
 * A server transaction whose retransmissions the layer took over (retire): it reaches
 * Terminated when `until` (Timer J, L or I) has come, with nothing firing for it.
 */
export class Retired {
  constructor(
    readonly until: number,
    private readonly now: () => number,
  ) {}

  get over(): boolean {
    return this.now() >= this.until;
  }
}

/** What the layer needs from a server transaction to take over its retransmissions and drop it. */
interface RetiringTransaction {
  readonly key: string;
  /** The request's To tag ("" for a dialog-creating one), for RFC 2543 matching. */
  readonly requestToTag: string;
  onTransportError?: (err: Error) => void;
  onTerminated?: () => void;
  /** The layer answers or absorbs its retransmissions until `until` (its timer's due time, clock ms). */
  retired(until: number, now: () => number): void;
}

/** A completed non-INVITE server transaction (Timer J): its final response is resent from `wire`. */
export interface RetiringServerTransaction extends RetiringTransaction {
  readonly responseDestination: Endpoint;
}

/** An INVITE server transaction in Accepted or Confirmed (Timer L or I): nothing is sent from it. */
export interface RetiringInviteServerTransaction extends RetiringTransaction {
  readonly state: string;
  /** Our responses' To tag. */
  readonly toTag: string;
}

export interface ClientTransaction {
  /** Matching key (§17.1.3): branch + CSeq method. */
  readonly key: string;
  readonly request: SipRequest;
  readonly method: string;
  readonly branch: string;
  readonly destination: Endpoint;
  readonly state: string;
  /** Hand the transaction's remaining events to `user` (the TU that started it ended). */
  rehome(user: ClientTransactionUser): void;
}

export interface ClientTransactionUser {
  onResponse(res: SipResponse, tx: ClientTransaction): void;
  /** Timer B or F fired: treat as a 408 (§8.1.3.1). */
  onTimeout(tx: ClientTransaction): void;
  /** The transport failed to send: treat as a 503 (§8.1.3.1). */
  onTransportError(tx: ClientTransaction, err: Error): void;
  onTerminated?(tx: ClientTransaction): void;
}

export interface ServerTransaction {
  /** Matching key (§17.2.3). */
  readonly key: string;
  readonly request: SipRequest;
  readonly method: string;
  /** Where the request came from (the packet source). */
  readonly source: Endpoint;
  /** Where responses go (source, or §18.2.2 from the top Via). */
  readonly responseDestination: Endpoint;
  readonly state: string;
  /** The last response sent, if any. */
  readonly lastResponse: SipResponse | undefined;
  /**
   * Send a response. For INVITE, a 2xx moves the transaction to Accepted (RFC 6026); its
   * retransmission until the ACK (§13.3.1.4) is the TU's, or the layer's with
   * `retransmit2xx: true`.
   */
  respond(res: SipResponse): void;
  /** Set by the TU: a CANCEL matched this INVITE (the layer already answered it 200, §9.2). */
  onCancel?: (cancel: SipRequest) => void;
  /** The ACK for a 300–699 arrived (INVITE only). */
  onAck?: (ack: SipRequest) => void;
  /** No ACK came: Timer H for a 300–699, or 64·T1 of 2xx retransmissions (TU should BYE). */
  onNoAck?: () => void;
  onTransportError?: (err: Error) => void;
  onTerminated?: () => void;
}

/** What the layer needs to forget a transaction: which of its tables, and the key there. */
export interface TransactionRef {
  readonly kind: "client" | "server";
  readonly key: string;
}

/** Named timers of one transaction on the shared wheel. */
export abstract class TimedTransaction<T extends string> implements TransactionRef {
  abstract readonly kind: "client" | "server";
  abstract readonly key: string;
  private readonly timers: Partial<Record<T, WheelTimer>> = {};
  /**
   * A send's error callback: failures are reported deferred, so machines never re-enter. Made
   * per send (a few per transaction) rather than kept by every transaction for its whole life,
   * which for an INVITE's Accepted is 64·T1 after its last send.
   */
  protected get sendError(): (err: Error) => void {
    return (err) => queueMicrotask(() => this.transportFailed(err));
  }

  constructor(protected readonly ctx: TransactionContext) {}

  get durations(): TimerDurations {
    return this.ctx.durations;
  }

  startTimer(t: T, ms: number): void {
    this.stopTimer(t);
    this.timers[t] = this.ctx.wheel.schedule(ms, () => {
      this.timers[t] = undefined;
      this.onTimer(t);
    });
  }

  stopTimer(t: T): void {
    const w = this.timers[t];
    if (w) {
      this.ctx.wheel.cancel(w);
      this.timers[t] = undefined;
    }
  }

  protected stopAllTimers(): void {
    for (const k of Object.keys(this.timers) as T[]) this.stopTimer(k);
  }

  /**
   * The guard every §17 machine applies to a state change: no-op on the same state,
   * Terminated is final (an illegal move throws). Returns whether the move happens.
   */
  protected legalMove(from: string, to: string, name: string): boolean {
    if (from === to) return false;
    if (from === "terminated") throw new Error(`${name} transaction: illegal ${from} → ${to}`);
    return true;
  }

  /** Entering Terminated: stop timers, tell the layer to forget us, then the user's hook. */
  protected enterTerminated(notify: (() => void) | undefined): void {
    this.stopAllTimers();
    this.ctx.terminated(this);
    if (notify) this.ctx.guard("onTerminated", notify);
  }

  protected abstract onTimer(t: T): void;
  protected abstract transportFailed(err: Error): void;
}
