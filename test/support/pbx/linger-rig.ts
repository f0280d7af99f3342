/**
 * A PBX with two phones on the in-memory network, for measuring what ended calls cost while
 * they linger (64·T1): answered calls placed back to back at a high rate of the gateway's
 * fake time. The phones run on a clock of their own that jumps past every linger after each
 * call, so whatever stays is the gateway's. Used by src/pbx/pbx-heap.test.ts and
 * bench/linger-heap.ts (the heap snapshot of the same scenario).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../../src/clock.js";
import { silentLogger } from "../../../src/log.js";
import { createMemoryNetwork } from "../../../src/sip/transport.js";
import { TransactionLayer } from "../../../src/sip/transaction/layer.js";
import { DigestServer } from "../../../src/sip/digest.js";
import { BindingsStore } from "../../../src/pbx/bindings-store.js";
import { Registrar } from "../../../src/pbx/registrar.js";
import { Lockout } from "../../../src/pbx/lockout.js";
import { ExtensionAuth } from "../../../src/pbx/auth.js";
import { Dialplan } from "../../../src/pbx/dialplan.js";
import { Pbx } from "../../../src/pbx/pbx.js";
import { passThroughMedia } from "../../../src/pbx/call-media.js";
import { TestPhone } from "./phone.js";

export interface LingerRig {
  readonly pbx: Pbx;
  readonly gwTx: TransactionLayer;
  readonly a: TestPhone;
  readonly b: TestPhone;
  /** `n` answered calls 801 → 802, each ACKed and hung up by the caller; 500 a second of the gateway's time. */
  calls(n: number): Promise<void>;
  /** Let `ms` of the gateway's time pass, a second at a time. */
  pass(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function lingerRig(): Promise<LingerRig> {
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
  return {
    pbx,
    gwTx,
    a,
    b,
    async calls(n) {
      for (let i = 0; i < n; i++) {
        const { res } = await a.call("802");
        if (res.status !== 200) throw new Error(`call ${i}: ${res.status} ${res.reason}`);
        a.ack(res);
        await net.flush();
        const bye = await a.bye();
        if (bye.status !== 200) throw new Error(`call ${i}: BYE answered ${bye.status}`);
        b.incoming = undefined;
        a.received.length = 0;
        b.received.length = 0;
        a.responses.length = 0;
        b.responses.length = 0;
        phoneClock.advance(40_000);
        // 500 calls a second of fake time: every one of them still lingers at the end.
        if (i % 50 === 49) clock.advance(100);
      }
    },
    async pass(ms) {
      for (let t = 0; t < ms; t += 1000) {
        clock.advance(1000);
        await net.flush();
      }
    },
    async close() {
      pbx.close();
      await registrar.close();
      for (const t of [gwTx, a.tx, b.tx]) t.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
