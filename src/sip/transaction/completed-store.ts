/**
 * Completed non-INVITE server transactions (RFC 3261 §17.2.2), kept compactly. Once its
 * final response is sent, such a transaction only answers request retransmissions with
 * that same response until Timer J (64·T1 = 32 s on UDP). At 6000 REGISTER/s that is
 * ~400k of them alive at once; as full objects (transaction, bound closure, timer record,
 * wheel timer, matching key built from slices of each datagram's text) they filled the
 * old space and its mark-compacts stalled the process long enough for SIPp to retransmit.
 *
 * Here one is a Map entry from key to {wire, destination, To tag, due}, and expiry is a
 * queue of key arrays, one per wheel tick: one wheel timer per 10 ms instead of one per
 * transaction. A tick's timer runs only once every entry in it is due, so none leaves early.
 */
import type { Endpoint } from "../message/types.js";
import type { TimerWheel } from "./timer-wheel.js";

interface Completed {
  readonly wire: Buffer;
  readonly dest: Endpoint;
  /** The request's To tag, for RFC 2543 matching ("" when none). */
  readonly toTag: string;
  readonly due: number;
}

export class CompletedStore {
  private readonly map = new Map<string, Completed>();
  private lastTick = -1;
  private lastBatch: string[] = [];

  constructor(
    private readonly wheel: TimerWheel,
    /** Timer J, ms. */
    private readonly holdMs: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** Stores a final response; returns when it expires (Timer J, clock ms). */
  add(key: string, wire: Buffer, dest: Endpoint, toTag: string): number {
    const due = this.now() + this.holdMs;
    // Keys are template literals over slices of the datagram text: flattening copies out
    // the few bytes needed so the whole request text is not kept alive for 32 s.
    const k = flat(key);
    this.map.set(k, { wire, dest, toTag: toTag === "" ? "" : flat(toTag), due });
    const tick = Math.ceil(due / this.wheel.granularityMs);
    if (tick !== this.lastTick) {
      this.lastTick = tick;
      const batch: string[] = [];
      this.lastBatch = batch;
      this.wheel.schedule(this.holdMs, () => this.expire(batch));
    }
    this.lastBatch.push(k);
    return due;
  }

  /** The stored final response for `key`, if its To tag matches when RFC 2543 matching asks for it. */
  match(key: string, toTag: string | undefined): { wire: Buffer; dest: Endpoint } | undefined {
    const e = this.map.get(key);
    if (!e || (toTag !== undefined && toTag !== e.toTag)) return undefined;
    return e;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.lastBatch = [];
    this.lastTick = -1;
  }

  private expire(batch: string[]): void {
    const now = this.now();
    for (const k of batch) {
      const e = this.map.get(k);
      if (e && e.due <= now) this.map.delete(k);
    }
    if (batch === this.lastBatch) {
      this.lastBatch = [];
      this.lastTick = -1;
    }
  }
}

/** A sequential copy of a string (no cons or sliced string keeping its parents alive). */
function flat(s: string): string {
  // Buffer round trip: the one way that always allocates a fresh sequential string.
  return Buffer.from(s, "utf8").toString("utf8");
}
