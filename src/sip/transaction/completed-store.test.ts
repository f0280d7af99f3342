import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ManualClock } from "../../clock.js";
import { CompletedStore } from "./completed-store.js";
import { TimerWheel } from "./timer-wheel.js";

const dest = { address: "198.18.0.2", port: 5060 };

describe("CompletedStore (§17.2.2 Completed until Timer J)", () => {
  it("an entry answers until exactly its due time, never expires early, and one wheel timer serves a tick (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 999 }), (gaps, start) => {
        const clock = new ManualClock(start);
        const wheel = new TimerWheel(clock, 10);
        const store = new CompletedStore(wheel, 32_000, () => clock.now());
        const dues: Array<{ key: string; due: number }> = [];
        gaps.forEach((g, i) => {
          clock.advance(g);
          const key = `k${i}`;
          dues.push({ key, due: store.add(key, Buffer.from(key), dest, "") });
        });
        // Fewer timers than entries whenever several land in one tick.
        expect(wheel.size).toBeLessThanOrEqual(gaps.length);
        for (let step = 0; step < 400 && store.size > 0; step++) {
          for (const d of dues) {
            if (clock.now() < d.due) expect(store.match(d.key, undefined)?.wire.toString()).toBe(d.key);
          }
          clock.advance(7);
          for (const d of dues) if (clock.now() >= d.due + 10) expect(store.has(d.key)).toBe(false); // at most one tick late
        }
        clock.advance(40_000);
        expect(store.size).toBe(0);
        expect(wheel.size).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it("RFC 2543 matching compares the To tag; clear() empties it", () => {
    const clock = new ManualClock(0);
    const store = new CompletedStore(new TimerWheel(clock, 10), 32_000, () => clock.now());
    store.add("a", Buffer.from("x"), dest, "t1");
    expect(store.match("a", "t1")?.dest).toEqual(dest);
    expect(store.match("a", "t2")).toBeUndefined();
    expect(store.match("a", undefined)).toBeDefined();
    expect(store.match("b", undefined)).toBeUndefined();
    store.clear();
    expect(store.size).toBe(0);
  });

  it("a key stored again after its expiry is not removed by the old tick's timer", () => {
    const clock = new ManualClock(0);
    const store = new CompletedStore(new TimerWheel(clock, 10), 1000, () => clock.now());
    store.add("a", Buffer.from("1"), dest, "");
    store.delete("a");
    clock.advance(500);
    store.add("a", Buffer.from("2"), dest, "");
    clock.advance(500); // the first entry's tick runs
    expect(store.match("a", undefined)?.wire.toString()).toBe("2");
    clock.advance(500);
    expect(store.has("a")).toBe(false);
  });
});
