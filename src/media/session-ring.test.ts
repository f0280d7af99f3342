import { describe, expect, it } from "vitest";
import { SessionRing } from "./session-ring.js";
import { prng as rng } from "../../test/support/prng.js";


describe("SessionRing", () => {
  it("visits k members per call and reports the end of each round", () => {
    const ring = new SessionRing<number>();
    for (let i = 0; i < 5; i++) ring.add(i);
    const seen: number[] = [];
    expect(ring.visit(2, (x) => seen.push(x))).toBe(false);
    expect(ring.visit(2, (x) => seen.push(x))).toBe(false);
    expect(ring.visit(2, (x) => seen.push(x))).toBe(true);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(ring.visit(0, () => undefined)).toBe(false);
  });

  it("visits every member present for a whole round exactly once, whatever is added or removed meanwhile (also by the visitor)", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      const ring = new SessionRing<number>();
      const members = new Set<number>();
      let next = 0;
      for (let i = 0; i < 1 + Math.floor(r() * 30); i++) {
        ring.add(next);
        members.add(next++);
      }
      for (let round = 0; round < 5; round++) {
        const atStart = new Set(members);
        const gone = new Set<number>();
        const visits = new Map<number, number>();
        let ended = false;
        for (let calls = 0; !ended && calls < 1000; calls++) {
          // Between slices: joins and leaves.
          if (r() < 0.3) {
            ring.add(next);
            members.add(next++);
          }
          if (r() < 0.3 && members.size > 0) {
            const victim = [...members][Math.floor(r() * members.size)]!;
            ring.remove(victim);
            members.delete(victim);
            gone.add(victim);
          }
          ended = ring.visit(1 + Math.floor(r() * 4), (x) => {
            expect(members.has(x)).toBe(true);
            visits.set(x, (visits.get(x) ?? 0) + 1);
            // The visitor releases what it visits now and then (a timeout ending the call).
            if (r() < 0.1) {
              ring.remove(x);
              members.delete(x);
              gone.add(x);
            }
          });
        }
        expect(ended, `seed ${seed}`).toBe(true);
        for (const x of atStart) if (!gone.has(x)) expect(visits.get(x), `seed ${seed} member ${x}`).toBe(1);
        for (const n of visits.values()) expect(n).toBe(1);
        expect(ring.size).toBe(members.size);
        expect(new Set(ring.values())).toEqual(members);
      }
    }
  });

  it("ignores a second add and the removal of a stranger", () => {
    const ring = new SessionRing<string>();
    ring.add("a");
    ring.add("a");
    ring.remove("b");
    expect(ring.size).toBe(1);
    expect(ring.has("a")).toBe(true);
  });
});
