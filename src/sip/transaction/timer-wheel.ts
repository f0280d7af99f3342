/**
 * A coarse shared timer for transactions. Every live transaction holds two or three
 * timers (A+B, E+F, G+H, D, K, …); at thousands of transactions per second and 32 s
 * lifetimes that is tens of thousands of pending timers. One Node timer each is costly
 * (a heap/list entry, a closure, a C++ handle), so all of them share one tick of the
 * injected Clock and live in buckets keyed by tick number.
 *
 * Semantics: a timer never fires early; it fires at the first tick at or after its due
 * time, i.e. at most `granularityMs` late (RFC 3261 timers are ≥ 500 ms, so 10 ms of
 * slack changes no behaviour). Timers due in the same tick fire in scheduling order.
 * The tick only runs while something is scheduled.
 */
import type { Clock, TimerHandle } from "../../clock.js";

export interface WheelTimer {
  /** Absolute due time, ms on the wheel's clock. */
  readonly due: number;
  /** @internal bucket key */
  tick: number;
  fn: (() => void) | undefined;
}

export class TimerWheel {
  private readonly buckets = new Map<number, Set<WheelTimer>>();
  private count = 0;
  /** Last tick whose bucket has been run. */
  private doneTick: number;
  private handle: TimerHandle | undefined;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    readonly granularityMs = 10,
    /** Called when a timer callback throws; the wheel keeps running. */
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.doneTick = Math.floor(clock.now() / granularityMs);
  }

  /** Live (scheduled, not yet fired or cancelled) timers. */
  get size(): number {
    return this.count;
  }

  schedule(delayMs: number, fn: () => void): WheelTimer {
    const due = this.clock.now() + Math.max(0, delayMs);
    // Round up: never early. A tick already run cannot take new timers.
    const tick = Math.max(Math.ceil(due / this.granularityMs), this.doneTick + 1);
    const t: WheelTimer = { due, tick, fn };
    let b = this.buckets.get(tick);
    if (!b) this.buckets.set(tick, (b = new Set()));
    b.add(t);
    this.count++;
    this.arm();
    return t;
  }

  cancel(t: WheelTimer | undefined): void {
    if (!t || !t.fn) return;
    t.fn = undefined;
    this.count--;
    const b = this.buckets.get(t.tick);
    if (b?.delete(t) && b.size === 0) this.buckets.delete(t.tick);
  }

  /** Stop everything: pending timers are dropped. */
  close(): void {
    this.closed = true;
    this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    for (const b of this.buckets.values()) for (const t of b) t.fn = undefined;
    this.buckets.clear();
    this.count = 0;
  }

  private arm(): void {
    if (this.handle !== undefined || this.closed || this.count === 0) return;
    const nextAt = (this.doneTick + 1) * this.granularityMs;
    this.handle = this.clock.setTimeout(() => this.run(), Math.max(0, nextAt - this.clock.now()));
  }

  /** Run every bucket up to the current tick (several after a stall or a clock jump). */
  private run(): void {
    this.handle = undefined;
    const nowTick = Math.floor(this.clock.now() / this.granularityMs);
    // doneTick moves before each bucket runs, so a timer scheduled from a callback lands
    // in a later bucket that this same loop still reaches.
    for (let guard = 0; guard < 10_000_000; guard++) {
      if (nowTick - this.doneTick <= this.buckets.size) {
        while (this.doneTick < nowTick) this.runBucket(++this.doneTick);
        break;
      }
      // Long stall: walk the (few) buckets rather than every tick in between.
      let min = Infinity;
      for (const k of this.buckets.keys()) if (k < min) min = k;
      if (min > nowTick) {
        this.doneTick = nowTick;
        break;
      }
      this.doneTick = min;
      this.runBucket(min);
    }
    this.arm();
  }

  private runBucket(k: number): void {
    const b = this.buckets.get(k);
    if (!b) return;
    this.buckets.delete(k);
    for (const t of b) {
      const fn = t.fn;
      if (!fn) continue; // cancelled by an earlier callback of this bucket
      t.fn = undefined;
      this.count--;
      try {
        fn();
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
