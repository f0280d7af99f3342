import { describe, expect, it } from "vitest";
import { ownBuffer } from "./own-buffer.js";

describe("ownBuffer", () => {
  it("copies a slice of Node's shared pool into memory of its own, same bytes", () => {
    const pooled = Buffer.allocUnsafe(300); // < poolSize/2: a slice of a shared slab
    pooled.fill(0x41);
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.byteLength);
    const own = ownBuffer(pooled);
    expect(own.buffer).not.toBe(pooled.buffer);
    expect(own.byteOffset).toBe(0);
    expect(own.buffer.byteLength).toBe(300);
    expect(own.equals(pooled)).toBe(true);
  });

  it("returns a buffer that already owns its memory as it is", () => {
    const b = Buffer.allocUnsafeSlow(64).fill(1);
    expect(ownBuffer(b)).toBe(b);
  });
});
