/**
 * An injectable clock. State machines (SIP transactions, DHCP client, registrar expiry,
 * media timeouts) take one so tests run them on fake time without sleeping.
 * `systemClock` is the real thing; tests use vitest's fake timers over it or a manual clock.
 */
export interface TimerHandle {
  /** Opaque; pass back to the clearTimeout of the clock that made it. */
  readonly __timer?: unknown;
}

export interface Clock {
  /** Milliseconds, monotonic enough for timers (Date.now() under fake timers is fine). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** systemClock's handle: the Node timer it wraps (a handle of another clock is not one). */
class NodeTimer implements TimerHandle {
  constructor(readonly __timer: NodeJS.Timeout) {}
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // Timers never keep the process alive on their own: sockets do.
    t.unref?.();
    return new NodeTimer(t);
  },
  clearTimeout: (h) => {
    if (h instanceof NodeTimer) clearTimeout(h.__timer);
  },
};

/** ManualClock's handle: the number its timer is filed under. */
class ManualTimer implements TimerHandle {
  constructor(readonly __timer: number) {}
}

/** A manual clock for unit tests: advance() fires due timers in order. */
export class ManualClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return new ManualTimer(id);
  }

  clearTimeout(h: TimerHandle | undefined): void {
    if (h instanceof ManualTimer) this.timers.delete(h.__timer);
  }

  /** Move time forward by ms, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let guard = 0; guard < 1_000_000; guard++) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, tm] of this.timers) if (tm.at < nextAt || (tm.at === nextAt && id < nextId)) (nextAt = tm.at), (nextId = id);
      if (nextId < 0 || nextAt > end) break;
      const tm = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      this.t = tm.at;
      tm.fn();
    }
    this.t = end;
  }

  pending(): number {
    return this.timers.size;
  }
}
