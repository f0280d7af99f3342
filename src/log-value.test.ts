import { describe, expect, it } from "vitest";
import { clip } from "./log-value.js";

describe("clip", () => {
  it("keeps short values and cuts long ones, saying how long they were", () => {
    expect(clip("801")).toBe("801");
    expect(clip(undefined)).toBeUndefined();
    const long = "x".repeat(20_000);
    const c = clip(long);
    expect(c.length).toBeLessThan(100);
    expect(c).toBe(`${"x".repeat(64)}…(20000 chars)`);
    expect(clip("abcdef", 3)).toBe("abc…(6 chars)");
  });
});
