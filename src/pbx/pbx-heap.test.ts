/**
 * What an ended call costs while its dialogs and transactions linger (64·T1), and that the
 * heap goes back to where it started once they are gone: thousands of calls at a high rate
 * on a manual clock, the heap measured after full collections. The phones run on a clock
 * of their own that jumps past every linger after each call, so the figure is the gateway's
 * (test/support/pbx/linger-rig.ts; `npx vite-node bench/linger-heap.ts` shows what it is made of).
 */
import { describe, expect, it } from "vitest";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { lingerRig } from "../../test/support/pbx/linger-rig.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** The JS heap plus ArrayBuffer memory (kept Buffers live outside the heap), after full collections. */
async function used(): Promise<{ heap: number; buffers: number }> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

describe("PBX heap per ended call", () => {
  it("10,000 answered calls at a high rate: a few KB each while they linger, the heap back at its start after", async () => {
    const rig = await lingerRig();
    // Warm up (JIT, lazily built tables), let it all expire, then measure.
    await rig.calls(300);
    await rig.pass(70_000);
    const start = await used();
    const N = 10_000;
    await rig.calls(N);
    const lingering = await used();
    const perCall = (lingering.heap - start.heap + lingering.buffers - start.buffers) / N;
    expect(rig.pbx.dialogCount).toBe(2 * N);
    await rig.pass(70_000);
    const after = await used();
    const mb = (x: number) => (x / 1e6).toFixed(1);
    console.log(
      `heap: start ${mb(start.heap)} MB (+${mb(start.buffers)} MB buffers), ${N} ended calls lingering ${mb(lingering.heap)} MB (+${mb(lingering.buffers)} MB buffers): ${(perCall / 1024).toFixed(2)} KB per call; after the linger ${mb(after.heap)} MB (+${mb(after.buffers)} MB buffers)`,
    );
    expect(rig.pbx.dialogCount).toBe(0);
    for (const layer of [rig.gwTx, rig.a.tx, rig.b.tx]) expect(layer.stats()).toMatchObject({ clients: 0, servers: 0, awaitingAck: 0 });
    // Within 2 MB of the start once the linger passed; and an ended call costs little meanwhile
    // (13.9 KB of heap and buffers before its transactions and dialogs lingered as small records; 2.8 KB after).
    expect(after.heap + after.buffers - start.heap - start.buffers).toBeLessThan(2_000_000);
    expect(perCall).toBeLessThan(5 * 1024);
    await rig.close();
  }, 300_000);
});
