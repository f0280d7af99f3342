/**
 * What an ended call costs while its dialogs and transactions linger (64·T1), and that the
 * heap goes back to where it started once they are gone: thousands of calls at a high rate
 * on a manual clock, the heap measured after full collections. The phones run on a clock
 * of their own that jumps past every linger after each call, so the figure is the gateway's.
 */
import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { createMemoryNetwork } from "../sip/transport.js";
import { TransactionLayer } from "../sip/transaction/layer.js";
import { DigestServer } from "../sip/digest.js";
import { BindingsStore } from "./bindings-store.js";
import { Registrar } from "./registrar.js";
import { Lockout } from "./lockout.js";
import { ExtensionAuth } from "./auth.js";
import { Dialplan } from "./dialplan.js";
import { Pbx } from "./pbx.js";
import { passThroughMedia } from "./call-media.js";
import { TestPhone } from "../../test/support/pbx/phone.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

async function heapUsed(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  return process.memoryUsage().heapUsed;
}

describe("PBX heap per ended call", () => {
  it("10,000 answered calls at a high rate: a few KB each while they linger, the heap back at its start after", async () => {
    const net = createMemoryNetwork({ record: false });
    const dir = mkdtempSync(join(tmpdir(), "hgw-heap-"));
    const clock = new ManualClock(1_000_000);
    const log = silentLogger();
    const GW = { address: "198.18.0.1", port: 5060 };
    const gwTx = new TransactionLayer({ transport: net.transport(GW), log, clock });
    const extensions = [
      { number: "801", password: "secret801" },
      { number: "802", password: "secret802" },
    ];
    // (The nonce-count table is bounded on its own, limits.tracked_nonces: kept small here so it does not blur the figure.)
    const digest = new DigestServer({ realm: "t", clock, nonceTtlMs: 10_000_000, maxTrackedNonces: 1000 });
    const lockout = new Lockout({ clock, log });
    const auth = new ExtensionAuth({ extensions, digest, lockout, log, clock });
    const registrar = new Registrar({ auth, extensions, realm: "t", store: new BindingsStore({ stateDir: dir, clock, log }), clock, log, digest, lockout, maxExpires: 100_000 });
    const pbx = new Pbx({ tx: gwTx, registrar, auth, media: passThroughMedia, extensions, clock, log, dialplan: new Dialplan([{ match: "^80[1-9]$", to: "extension" }]), localHost: GW.address, localPort: GW.port, ringTimeoutMs: 60_000 });
    const phoneClock = new ManualClock(1_000_000);
    const a = new TestPhone(net, { address: "198.18.0.11", port: 5060 }, "801", "secret801", GW, phoneClock);
    const b = new TestPhone(net, { address: "198.18.0.12", port: 5060 }, "802", "secret802", GW, phoneClock);
    await a.register(90_000);
    await b.register(90_000);
    const calls = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const { res } = await a.call("802");
        expect(res.status).toBe(200);
        a.ack(res);
        await net.flush();
        expect((await a.bye()).status).toBe(200);
        b.incoming = undefined;
        a.received.length = 0;
        b.received.length = 0;
        a.responses.length = 0;
        b.responses.length = 0;
        phoneClock.advance(40_000);
        // 500 calls a second of fake time: every one of them still lingers at the end.
        if (i % 50 === 49) clock.advance(100);
      }
    };
    const pass = async (ms: number) => {
      for (let t = 0; t < ms; t += 1000) {
        clock.advance(1000);
        await net.flush();
      }
    };
    // Warm up (JIT, lazily built tables), let it all expire, then measure.
    await calls(300);
    await pass(70_000);
    const start = await heapUsed();
    const N = 10_000;
    await calls(N);
    const lingering = await heapUsed();
    const perCall = (lingering - start) / N;
    expect(pbx.dialogCount).toBe(2 * N);
    await pass(70_000);
    const after = await heapUsed();
    console.log(`heap: start ${(start / 1e6).toFixed(1)} MB, ${N} ended calls lingering ${(lingering / 1e6).toFixed(1)} MB (${(perCall / 1024).toFixed(2)} KB per call), after the linger ${(after / 1e6).toFixed(1)} MB`);
    expect(pbx.dialogCount).toBe(0);
    for (const layer of [gwTx, a.tx, b.tx]) expect(layer.stats()).toMatchObject({ clients: 0, servers: 0, awaitingAck: 0 });
    // Within 2 MB of the start once the linger passed; and an ended call costs little meanwhile.
    expect(after - start).toBeLessThan(2_000_000);
    expect(perCall).toBeLessThan(16 * 1024);
    pbx.close();
    await registrar.close();
    for (const t of [gwTx, a.tx, b.tx]) t.close();
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);
});
