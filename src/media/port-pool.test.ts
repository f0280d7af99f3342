import { describe, expect, it } from "vitest";
import { PortPool } from "./port-pool.js";

describe("PortPool", () => {
  it("hands out even ports only, with room for RTCP at +1", () => {
    const p = new PortPool(49151, 49160); // 49152..49158 even, 49160 has no 49161
    const got: number[] = [];
    for (let i = 0; i < 10; i++) got.push(p.take());
    expect(got).toEqual([49152, 49154, 49156, 49158, -1, -1, -1, -1, -1, -1]);
  });

  it("reuses a freed pair last (FIFO) and ignores double frees", () => {
    const p = new PortPool(50000, 50007);
    const a = p.take();
    p.take();
    p.give(a);
    p.give(a);
    p.give(50001); // odd: never a pair start
    expect(p.free).toBe(3);
    expect([p.take(), p.take(), p.take(), p.take()]).toEqual([50004, 50006, 50000, -1]);
  });

  it("survives many take/give cycles with nothing lost", () => {
    const p = new PortPool(50000, 50099);
    for (let round = 0; round < 1000; round++) {
      const t = [p.take(), p.take(), p.take()];
      for (const x of t) p.give(x);
    }
    expect(p.free).toBe(p.capacity);
  });

  it("rejects a range without a pair", () => {
    expect(() => new PortPool(50001, 50001)).toThrow(RangeError);
    expect(() => new PortPool(60000, 50000)).toThrow(RangeError);
  });
});
