/**
 * A table of small records that each stay a fixed time (a transaction's 64·T1 or T4 after it
 * settled), for what only lingers to absorb retransmissions. At hundreds of calls a second
 * that is tens of thousands of records alive at once; as full objects (transaction, bound
 * closures, timer record and wheel timer each, a matching key built from slices of each
 * datagram's text) they cost kilobytes each and their mark-compacts stall the process.
 *
 * Here a record is one Map entry from a flattened key, and expiry is a queue of key arrays,
 * one per wheel tick and hold time: one wheel timer per tick instead of one per record. A
 * tick's timer runs only once every entry in it is due, so none leaves early.
 */
import type { TimerWheel } from "./timer-wheel.js";
import { flatString } from "../../flat-string.js";

export interface Lingering {
  /** Clock ms at which the record goes. */
  readonly due: number;
}

/** Keys added with one hold time, batched per wheel tick. */
class Batches {
  private lastTick = -1;
  private lastBatch: string[] = [];

  constructor(
    private readonly wheel: TimerWheel,
    private readonly holdMs: number,
    private readonly expire: (keys: string[]) => void,
  ) {}

  add(key: string, due: number): void {
    const tick = Math.ceil(due / this.wheel.granularityMs);
    if (tick !== this.lastTick) {
      this.lastTick = tick;
      const batch: string[] = [];
      this.lastBatch = batch;
      this.wheel.schedule(this.holdMs, () => {
        if (batch === this.lastBatch) {
          this.lastBatch = [];
          this.lastTick = -1;
        }
        this.expire(batch);
      });
    }
    this.lastBatch.push(key);
  }
}

export class LingerTable<V extends Lingering> {
  private readonly map = new Map<string, V>();
  private readonly queues = new Map<number, Batches>();

  constructor(
    private readonly wheel: TimerWheel,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** Files `make(due)` under `key` for `holdMs`; returns the record. */
  add(key: string, holdMs: number, make: (due: number) => V): V {
    const due = this.now() + holdMs;
    // Keys are template literals over slices of the datagram text: flattening copies out
    // the few bytes needed so the whole request text is not kept alive meanwhile.
    const k = flatString(key);
    const rec = make(due);
    this.map.set(k, rec);
    let q = this.queues.get(holdMs);
    if (!q) this.queues.set(holdMs, (q = new Batches(this.wheel, holdMs, (keys) => this.expire(keys))));
    q.add(k, due);
    return rec;
  }

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    // The wheel is cleared by its owner (layer close); pending batches find nothing.
    this.queues.clear();
  }

  private expire(keys: string[]): void {
    const now = this.now();
    for (const k of keys) {
      const e = this.map.get(k);
      // A record filed again under the key since (a later due) stays for its own batch.
      if (e && e.due <= now) this.map.delete(k);
    }
  }
}
