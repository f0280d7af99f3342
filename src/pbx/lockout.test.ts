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

const GUESSER = "198.18.0.9";
const ELSEWHERE = "198.18.0.50";

describe("Lockout", () => {
  it("locks an (address, extension) pair after 5 failures within 60 s, for 5 minutes", () => {
    const { clock, lockout } = make();
    for (let i = 0; i < 4; i++) lockout.recordFailure("801", GUESSER);
    expect(lockout.check("801", GUESSER)).toEqual({ locked: false });
    lockout.recordFailure("801", GUESSER);
    expect(lockout.check("801", GUESSER)).toEqual({ locked: true, by: "pair", until: 1_000_000 + 300_000 });
    clock.advance(299_999);
    expect(lockout.check("801", GUESSER).locked).toBe(true);
    clock.advance(1);
    expect(lockout.check("801", GUESSER).locked).toBe(false);
  });

  it("never locks the extension for other addresses, nor other extensions from the guesser's address", () => {
    const { lockout } = make();
    for (let i = 0; i < 50; i++) lockout.recordFailure("801", GUESSER);
    expect(lockout.check("801", GUESSER).locked).toBe(true);
    // The real 801 elsewhere (the issue: its refreshes got 403), and 802 behind the same NAT.
    expect(lockout.check("801", ELSEWHERE)).toEqual({ locked: false });
    expect(lockout.check("802", GUESSER)).toEqual({ locked: false });
  });

  it("doubles the lock at each new lock of the same pair (backoff), capped", () => {
    const { clock, lockout } = make({ maxLockMs: 1_000_000 });
    const lockFor = () => {
      for (let i = 0; i < 5; i++) lockout.recordFailure("801", GUESSER);
      const s = lockout.check("801", GUESSER);
      if (!s.locked) throw new Error("expected a lock");
      const ms = s.until - clock.now();
      clock.advance(ms);
      return ms;
    };
    expect([lockFor(), lockFor(), lockFor(), lockFor()]).toEqual([300_000, 600_000, 1_000_000, 1_000_000]);
  });

  it("does not lock failures spread wider than the window", () => {
    const { clock, lockout } = make();
    for (let i = 0; i < 20; i++) {
      lockout.recordFailure("801", GUESSER);
      clock.advance(15_001);
    }
    expect(lockout.check("801", GUESSER).locked).toBe(false);
  });

  it("blocks an address failing against 3 extensions as a scanner: one failure then locks a pair", () => {
    const { lockout } = make();
    lockout.recordFailure("801", "198.18.0.66");
    lockout.recordFailure("802", "198.18.0.66");
    expect(lockout.isScanner("198.18.0.66")).toBe(false);
    lockout.recordFailure("899", "198.18.0.66");
    expect(lockout.isScanner("198.18.0.66")).toBe(true);
    expect(lockout.isScanner("198.18.0.2")).toBe(false);
    // One more guess for 803 locks (803, scanner) at once; 804 was not guessed: not locked.
    lockout.recordFailure("803", "198.18.0.66");
    expect(lockout.check("803", "198.18.0.66").locked).toBe(true);
    expect(lockout.check("804", "198.18.0.66").locked).toBe(false);
    expect(lockout.check("803", "198.18.0.2").locked).toBe(false);
  });

  it("a success resets its own pair only, never the address's scan block", () => {
    const { lockout } = make();
    for (let i = 0; i < 4; i++) lockout.recordFailure("801", GUESSER);
    lockout.recordSuccess("801", GUESSER);
    for (let i = 0; i < 4; i++) lockout.recordFailure("801", GUESSER);
    expect(lockout.check("801", GUESSER).locked).toBe(false);
    for (const ext of ["802", "803", "804"]) lockout.recordFailure(ext, GUESSER);
    expect(lockout.isScanner(GUESSER)).toBe(true);
    // The scanner knows 801's password (its own phone): that does not lift the block.
    lockout.recordSuccess("801", GUESSER);
    expect(lockout.isScanner(GUESSER)).toBe(true);
  });

  it("unblock lifts an address (its block and pairs) or an extension (its pairs everywhere), and says what it lifted", () => {
    const { lockout, clock } = make();
    for (let i = 0; i < 5; i++) lockout.recordFailure("801", GUESSER);
    for (let i = 0; i < 5; i++) lockout.recordFailure("801", ELSEWHERE);
    for (const ext of ["802", "803"]) lockout.recordFailure(ext, GUESSER);
    expect(lockout.isScanner(GUESSER)).toBe(true);
    const until = clock.now() + 300_000;
    expect(lockout.unblock("801")).toEqual(
      expect.arrayContaining([
        { address: GUESSER, extension: "801", until },
        { address: ELSEWHERE, extension: "801", until },
      ]),
    );
    expect(lockout.check("801", GUESSER).locked).toBe(false);
    expect(lockout.check("801", ELSEWHERE).locked).toBe(false);
    expect(lockout.isScanner(GUESSER)).toBe(true);
    const lifted = lockout.unblock(GUESSER);
    expect(lifted).toEqual(expect.arrayContaining([{ address: GUESSER, until }, { address: GUESSER, extension: "803", until }]));
    expect(lockout.isScanner(GUESSER)).toBe(false);
    expect(lockout.check("803", GUESSER).locked).toBe(false);
    expect(lockout.unblock("198.18.0.77")).toEqual([]);
  });

  it("logs one line per lock, with the source and the rule", () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "info" }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const lockout = new Lockout({ clock: new ManualClock(), log });
    for (let i = 0; i < 5; i++) lockout.recordFailure("801", GUESSER);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ source: GUESSER, extension: "801", lock_s: 300 });
    expect(String(lines[0]!.rule)).toMatch(/5 failures for one extension from one address within 60 s/);
    for (const ext of ["802", "803"]) lockout.recordFailure(ext, GUESSER);
    expect(lines.some((l) => l.source === GUESSER && /scanner/.test(String(l.msg)) && /3 extensions/.test(String(l.rule)))).toBe(true);
  });

  it("keeps memory bounded, also against huge usernames", () => {
    const { lockout } = make({ maxEntries: 1000 });
    for (let i = 0; i < 10_000; i++) lockout.recordFailure("801", `198.18.${i >> 8}.${i & 255}`);
    expect(lockout.size()).toBeLessThanOrEqual(2000);
    for (let i = 0; i < 5; i++) lockout.recordFailure("x".repeat(20_000) + i, "198.18.0.70");
    // All overlong names are one key: five failures lock it.
    expect(lockout.check("y".repeat(30_000), "198.18.0.70").locked).toBe(true);
  });
});
