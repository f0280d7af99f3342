import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ManualClock } from "../../clock.js";
import { TimerWheel } from "./timer-wheel.js";

describe("TimerWheel", () => {
  it("never fires early and at most one tick late, in due order (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 999 }), (delays, start) => {
        const clock = new ManualClock(start);
        const w = new TimerWheel(clock, 10);
        const fired: Array<{ due: number; at: number }> = [];
        for (const d of delays) w.schedule(d, () => fired.push({ due: start + d, at: clock.now() }));
        clock.advance(41_000);
        expect(fired).toHaveLength(delays.length);
        for (const f of fired) {
          expect(f.at).toBeGreaterThanOrEqual(f.due);
          expect(f.at - f.due).toBeLessThanOrEqual(10); // at most one tick late (a tick already run takes no new timers)
        }
        const ats = fired.map((f) => f.at);
        expect([...ats].sort((a, b) => a - b)).toEqual(ats);
        expect(w.size).toBe(0);
        expect(clock.pending()).toBe(0); // the tick stops when idle
      }),
      { numRuns: 200 },
    );
  });

  it("cancel (also from a callback in the same tick), reschedule from a callback, close", () => {
    const clock = new ManualClock(0);
    const w = new TimerWheel(clock, 10);
    const log: string[] = [];
    let b: ReturnType<TimerWheel["schedule"]> | undefined = undefined;
    w.schedule(100, () => {
      log.push("a");
      w.cancel(b);
      w.schedule(0, () => log.push("c@" + clock.now()));
    });
    b = w.schedule(100, () => log.push("b"));
    const d = w.schedule(500, () => log.push("d"));
    expect(w.size).toBe(3);
    w.cancel(d);
    clock.advance(200);
    expect(log).toEqual(["a", "c@110"]);
    expect(w.size).toBe(0);
    w.schedule(50, () => log.push("e"));
    w.close();
    clock.advance(1000);
    expect(log).toEqual(["a", "c@110"]);
  });

  it("a throwing callback is reported and the others still run", () => {
    const clock = new ManualClock(0);
    const errs: unknown[] = [];
    const w = new TimerWheel(clock, 10, (e) => errs.push(e));
    let ran = 0;
    w.schedule(10, () => {
      throw new Error("x");
    });
    w.schedule(10, () => ran++);
    clock.advance(10);
    expect(errs).toHaveLength(1);
    expect(ran).toBe(1);
  });

  it("after a long stall every overdue timer fires once, in order", () => {
    // A clock whose timer runs late, as on a blocked event loop or after a suspend.
    let now = 0;
    let pending: (() => void) | undefined;
    const lazy = { now: () => now, setTimeout: (fn: () => void) => ((pending = fn), {}), clearTimeout: () => (pending = undefined) };
    const w = new TimerWheel(lazy, 10);
    const got: number[] = [];
    for (const d of [3_600_000, 5, 1_000_000]) w.schedule(d, () => got.push(d));
    now = 4_000_000;
    pending!();
    expect(got).toEqual([5, 1_000_000, 3_600_000]);
    expect(w.size).toBe(0);
  });
});
