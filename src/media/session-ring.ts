/**
 * The relay's sessions in a ring, visited a slice at a time: the coarse per-session checks
 * (media timeouts) run as many small bursts spread over the check interval instead of one walk
 * over every session at once. One walk over 300 sessions held the event loop ~0.4 ms each
 * second, and once V8 found it hot its optimising compile (~10 ms on a background thread that
 * shares the relay's core) delayed every packet behind it (bench/rtp.ts BENCH_DIAG, issue 16).
 *
 * `visit(k, fn)` visits the next k members from a cursor; a round ends when the cursor passes
 * the last member, and every member present for the whole round is visited exactly once in it,
 * also when members are removed during the round (even by `fn` itself) or added.
 * Add and remove are O(1): removal fills the hole so the visited members stay before the cursor.
 */
export class SessionRing<T> {
  private readonly items: T[] = [];
  private readonly index = new Map<T, number>();
  private cursor = 0;

  get size(): number {
    return this.items.length;
  }

  has(item: T): boolean {
    return this.index.has(item);
  }

  /** Joins the current round (visited before it ends). */
  add(item: T): void {
    if (this.index.has(item)) return;
    this.index.set(item, this.items.length);
    this.items.push(item);
  }

  remove(item: T): void {
    let i = this.index.get(item);
    if (i === undefined) return;
    this.index.delete(item);
    if (i < this.cursor) {
      // A visited slot: the last visited member fills it, and the hole moves to the cursor's
      // side, where the last (unvisited) member fills it below.
      this.cursor--;
      if (this.cursor !== i) this.place(this.items[this.cursor]!, i);
      i = this.cursor;
    }
    const last = this.items.pop()!;
    if (i < this.items.length) this.place(last, i);
  }

  /**
   * Visits up to `k` members from the cursor with `fn`; returns true when this call ended a
   * round (the cursor wrapped to the start).
   */
  visit(k: number, fn: (item: T) => void): boolean {
    for (let n = 0; n < k && this.cursor < this.items.length; n++) fn(this.items[this.cursor++]!);
    if (this.cursor < this.items.length) return false;
    this.cursor = 0;
    return true;
  }

  /** Every member, in no particular order (close, offload polls). */
  values(): IterableIterator<T> {
    return this.index.keys();
  }

  private place(item: T, i: number): void {
    this.items[i] = item;
    this.index.set(item, i);
  }
}
