/**
 * Completed non-INVITE server transactions (RFC 3261 §17.2.2), kept compactly. Once its
 * final response is sent, such a transaction only answers request retransmissions with
 * that same response until Timer J (64·T1 = 32 s on UDP). At 6000 REGISTER/s that is
 * ~400k of them alive at once; as full objects (transaction, bound closure, timer record,
 * wheel timer, matching key built from slices of each datagram's text) they filled the
 * old space and its mark-compacts stalled the process long enough for SIPp to retransmit.
 *
 * Here one is an entry of a LingerTable (linger-table.ts: a flattened key, batched expiry)
 * holding the final response's bytes as a one-byte string (latin1 maps each byte to one
 * character and back, losslessly): a Buffer kept for 32 s costs its JS objects, a malloc'd
 * backing store and its bookkeeping besides the bytes, outside the heap V8 can compact.
 */
import type { Endpoint } from "../message/types.js";
import type { TimerWheel } from "./timer-wheel.js";
import { LingerTable } from "./linger-table.js";
import { flatString } from "../../flat-string.js";

interface Completed {
  /** The final response as sent, one character per byte. */
  readonly text: string;
  readonly dest: Endpoint;
  /** The request's To tag, for RFC 2543 matching ("" when none). */
  readonly toTag: string;
  readonly due: number;
}

export class CompletedStore {
  private readonly table: LingerTable<Completed>;

  constructor(
    wheel: TimerWheel,
    /** Timer J, ms. */
    private readonly holdMs: number,
    now: () => number,
  ) {
    this.table = new LingerTable(wheel, now);
  }

  get size(): number {
    return this.table.size;
  }

  /** Stores a final response; returns when it expires (Timer J, clock ms). */
  add(key: string, wire: Buffer, dest: Endpoint, toTag: string): number {
    const text = wire.toString("latin1");
    return this.table.add(key, this.holdMs, (due) => ({ text, dest, toTag: toTag === "" ? "" : flatString(toTag), due })).due;
  }

  /** The stored final response for `key`, if its To tag matches when RFC 2543 matching asks for it. */
  match(key: string, toTag: string | undefined): { wire: Buffer; dest: Endpoint } | undefined {
    const e = this.table.get(key);
    if (!e || (toTag !== undefined && toTag !== e.toTag)) return undefined;
    return { wire: Buffer.from(e.text, "latin1"), dest: e.dest };
  }

  has(key: string): boolean {
    return this.table.get(key) !== undefined;
  }

  delete(key: string): void {
    this.table.delete(key);
  }

  clear(): void {
    this.table.clear();
  }
}
