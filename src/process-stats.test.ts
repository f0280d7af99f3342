import { describe, expect, it } from "vitest";
import { processStats } from "./process-stats.js";

describe("processStats", () => {
  it("reports memory and open handles by kind", () => {
    const t = setTimeout(() => undefined, 60_000);
    const s = processStats();
    clearTimeout(t);
    expect(s.rss_bytes).toBeGreaterThan(s.heap_used_bytes);
    expect(s.heap_total_bytes).toBeGreaterThanOrEqual(s.heap_used_bytes);
    expect(s.handles.Timeout).toBeGreaterThanOrEqual(1);
  });

  it("collects only when asked and when Node exposes gc", () => {
    expect(processStats().gc).toBe(false);
    const g = globalThis as { gc?: () => void };
    const had = g.gc;
    let ran = 0;
    g.gc = () => void ran++;
    try {
      expect(processStats({ collect: true }).gc).toBe(true);
      expect(processStats().gc).toBe(false);
      expect(ran).toBe(1);
    } finally {
      g.gc = had;
    }
  });
});
