import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { Lockout } from "./lockout.js";

function make(over: Partial<ConstructorParameters<typeof Lockout>[0]> = {}) {
  const clock = new ManualClock(1_000_000);
  const lockout = new Lockout({ clock, log: silentLogger(), maxFailures: 5, windowMs: 60_000, lockMs: 300_000, ...over });
  return { clock, lockout };
}

describe("Lockout", () => {
  it("locks an extension after 5 failures within 60 s, for 5 minutes", () => {
    const { clock, lockout } = make();
    for (let i = 0; i < 4; i++) lockout.recordFailure("801", "198.18.0.9");
    expect(lockout.check("801", "198.18.0.9")).toEqual({ locked: false });
    lockout.recordFailure("801", "198.18.0.9");
    expect(lockout.check("801", "198.18.0.50")).toEqual({ locked: true, by: "extension", until: 1_000_000 + 300_000 });
    expect(lockout.check("802", "198.18.0.9")).toMatchObject({ locked: true, by: "address" });
    expect(lockout.check("802", "198.18.0.50")).toEqual({ locked: false });
    clock.advance(299_999);
    expect(lockout.check("801", "198.18.0.9").locked).toBe(true);
    clock.advance(1);
    expect(lockout.check("801", "198.18.0.9").locked).toBe(false);
  });

  it("does not lock failures spread wider than the window", () => {
    const { clock, lockout } = make();
    for (let i = 0; i < 20; i++) {
      lockout.recordFailure("801", "198.18.0.9");
      clock.advance(15_001);
    }
    expect(lockout.check("801", "198.18.0.9").locked).toBe(false);
  });

  it("locks a scanning address trying many extensions", () => {
    const { lockout } = make();
    for (let i = 0; i < 5; i++) lockout.recordFailure(`80${i}`, "198.18.0.66");
    expect(lockout.check("809", "198.18.0.66")).toMatchObject({ locked: true, by: "address" });
    expect(lockout.check("809", "198.18.0.2").locked).toBe(false);
  });

  it("success resets the counters", () => {
    const { lockout } = make();
    for (let i = 0; i < 4; i++) lockout.recordFailure("801", "198.18.0.9");
    lockout.recordSuccess("801", "198.18.0.9");
    for (let i = 0; i < 4; i++) lockout.recordFailure("801", "198.18.0.9");
    expect(lockout.check("801", "198.18.0.9").locked).toBe(false);
  });

  it("logs the lock with the source address", () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "info" }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const lockout = new Lockout({ clock: new ManualClock(), log });
    for (let i = 0; i < 5; i++) lockout.recordFailure("801", "198.18.0.9");
    expect(lines.some((l) => l.source === "198.18.0.9" && l.extension === "801" && l.by === "extension")).toBe(true);
  });

  it("keeps memory bounded", () => {
    const { lockout } = make({ maxEntries: 1000 });
    for (let i = 0; i < 10_000; i++) lockout.recordFailure("801", `198.18.${i >> 8}.${i & 255}`);
    expect(lockout.size()).toBeLessThanOrEqual(1000);
    // The extension key is touched on every failure, so it is never the one forgotten.
    expect(lockout.check("801", "198.19.0.1").locked).toBe(true);
  });
});
