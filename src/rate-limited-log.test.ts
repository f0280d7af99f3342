import { describe, expect, it } from "vitest";
import { RateLimitedLog } from "./rate-limited-log.js";

describe("RateLimitedLog", () => {
  it("lets a few lines a second through and counts the rest", () => {
    const lines: Array<Record<string, unknown>> = [];
    const fake = { warn: (o: Record<string, unknown>) => lines.push(o), info: (o: Record<string, unknown>) => lines.push({ ...o, level: "info" }) } as never;
    let now = 0;
    const r = new RateLimitedLog(fake, 5, () => now);
    for (let i = 0; i < 100; i++) r.warn({ i }, "x");
    expect(lines).toHaveLength(5);
    now = 1000;
    r.warn({ i: 100 }, "x");
    expect(lines[5]).toMatchObject({ i: 100, suppressed: 95 });
  });
});

describe("RateLimitedLog levels", () => {
  it("logs at the level asked and shares one budget across levels", () => {
    const lines: Array<Record<string, unknown>> = [];
    const fake = { warn: (o: Record<string, unknown>) => lines.push({ ...o, level: "warn" }), info: (o: Record<string, unknown>) => lines.push({ ...o, level: "info" }) } as never;
    const r = new RateLimitedLog(fake, 2, () => 0);
    r.info({}, "a");
    r.warn({}, "b");
    r.info({}, "c");
    expect(lines.map((l) => l.level)).toEqual(["info", "warn"]);
    expect(r.pending).toBe(1);
  });
});
