import { describe, expect, it } from "vitest";
import { SilenceWatch } from "./silence.js";

describe("SilenceWatch", () => {
  it("expires once per silent spell; a new packet or a restart starts a new spell", () => {
    const w = new SilenceWatch(0);
    expect(w.expired(0, 9_999, 10_000)).toBe(false);
    expect(w.expired(0, 10_000, 10_000)).toBe(true);
    expect(w.expired(0, 50_000, 10_000)).toBe(false);
    expect(w.expired(1, 51_000, 10_000)).toBe(false);
    expect(w.quietMs(55_000)).toBe(4_000);
    expect(w.expired(1, 61_000, 10_000)).toBe(true);
    w.restart(1, 62_000);
    expect(w.expired(1, 71_999, 10_000)).toBe(false);
    expect(w.expired(1, 72_000, 10_000)).toBe(true);
  });
});
