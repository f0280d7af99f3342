import type { Clock } from "../../clock.js";
import type { Endpoint, SipRequest } from "../message/types.js";
import { TransactionLayer, type ClientTransaction, type ClientTransactionUser, type ViaOptions } from "./layer.js";

/**
 * A transaction layer counting the client transactions still waiting for a
 * final response (BYE, CANCEL'd INVITE, REGISTER), so a lease change or a shutdown can
 * wait for the BYEs it sent to be answered before closing the socket under them.
 */
export class DrainingLayer extends TransactionLayer {
  private open = 0;
  private readonly waiters: (() => void)[] = [];

  override sendRequest(req: SipRequest, to: Endpoint, user: ClientTransactionUser, opts: { via?: ViaOptions } = {}): ClientTransaction {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      if (--this.open === 0) for (const w of this.waiters.splice(0)) w();
    };
    this.open++;
    // The user may change (rehome: its TU ended); the count must follow the transaction still.
    let inner = user;
    try {
      const tx = super.sendRequest(req, to, {
        onResponse: (res, tx) => {
          if (res.status >= 200) finish();
          inner.onResponse(res, tx);
        },
        onTimeout: (tx) => {
          finish();
          inner.onTimeout(tx);
        },
        onTransportError: (tx, err) => {
          finish();
          inner.onTransportError(tx, err);
        },
        onTerminated: (tx: ClientTransaction) => inner.onTerminated?.(tx),
      }, opts);
      // Rehoming swaps the user behind this counting wrapper, never the wrapper itself.
      Object.defineProperty(tx, "rehome", { value: (u: ClientTransactionUser) => (inner = u) });
      return tx;
    } catch (err) {
      finish();
      throw err;
    }
  }

  /** Client transactions without a final response yet. */
  get pending(): number {
    return this.open;
  }

  /** Resolve once every client transaction has its final response, or after `ms` on `clock`. */
  drained(clock: Clock, ms: number): Promise<void> {
    if (this.open === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const waiters = this.waiters;
      const t = clock.setTimeout(done, ms);
      function done(): void {
        clock.clearTimeout(t);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1); // on timeout: no waiter left behind
        resolve();
      }
      waiters.push(done);
    });
  }
}

