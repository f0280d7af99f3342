import type { Clock } from "../../clock.js";
import type { Endpoint, SipRequest } from "../message/types.js";
import { TransactionLayer, type ClientTransaction, type ClientTransactionUser, type ViaOptions } from "./layer.js";

/**
 * A transaction layer counting the client transactions still waiting for a
 * final response (BYE, CANCEL'd INVITE, REGISTER), so a lease change or a shutdown can
 * wait for the BYEs it sent to be answered before closing the socket under them.
 * The count follows the transaction, not its user: a rehomed transaction (its TU ended)
 * still settles once, through the layer's clientSettled hook.
 */
export class DrainingLayer extends TransactionLayer {
  private open = 0;
  private readonly waiters: (() => void)[] = [];

  /** Callers of drained() still waiting (none once every wait has ended: nothing is kept). */
  get waiting(): number {
    return this.waiters.length;
  }

  override sendRequest(req: SipRequest, to: Endpoint, user: ClientTransactionUser, opts: { via?: ViaOptions } = {}): ClientTransaction {
    // Counted before it starts: a send that fails at once settles inside super.sendRequest.
    this.open++;
    try {
      return super.sendRequest(req, to, user, opts);
    } catch (err) {
      this.release();
      throw err;
    }
  }

  protected override clientSettled(_tx: ClientTransaction): void {
    this.release();
  }

  private release(): void {
    if (--this.open === 0) for (const w of this.waiters.splice(0)) w();
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
