/**
 * Thousands of calls set up and torn down leave nothing behind: no call, no dialog, no
 * transaction or timer in any layer, and every media session allocated is released.
 * Runs on a manual clock so the 32 s linger of dialogs and transactions costs no time.
 */
import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
import type { CallMediaFactory } from "./call-media.js";
import { TestPhone } from "../../test/support/pbx/phone.js";

describe("PBX leaks", () => {
  it("2000 calls (answered and hung up, busy, cancelled) leave no call, dialog, transaction, timer or media session", async () => {
    const net = createMemoryNetwork();
    const dir = mkdtempSync(join(tmpdir(), "hgw-leak-"));
    const clock = new ManualClock(Date.now());
    const log = silentLogger();
    const GW = { address: "198.18.0.1", port: 5060 };
    const gwTx = new TransactionLayer({ transport: net.transport(GW), log, clock });
    const extensions = [
      { number: "801", password: "secret801" },
      { number: "802", password: "secret802" },
    ];
    const digest = new DigestServer({ realm: "t", clock, nonceTtlMs: 10_000_000 });
    const lockout = new Lockout({ clock, log });
    const auth = new ExtensionAuth({ extensions, digest, lockout, log, clock });
    const registrar = new Registrar({ auth, extensions, realm: "t", store: new BindingsStore({ stateDir: dir, clock, log }), clock, log, digest, lockout, maxExpires: 100_000 });
    let live = 0;
    let allocated = 0;
    const media: CallMediaFactory = {
      create: async () => {
        live++;
        allocated++;
        let released = false;
        return {
          fromSide: (_f, sdp) => sdp,
          release: () => {
            if (!released) live--;
            released = true;
          },
        };
      },
    };
    const pbx = new Pbx({ tx: gwTx, registrar, auth, media, extensions, clock, log, dialplan: new Dialplan([{ match: "^80[1-9]$", to: "extension" }]), localHost: GW.address, localPort: GW.port, ringTimeoutMs: 60_000 });
    const a = new TestPhone(net, { address: "198.18.0.11", port: 5060 }, "801", "secret801", GW, clock);
    const b = new TestPhone(net, { address: "198.18.0.12", port: 5060 }, "802", "secret802", GW, clock);
    await a.register(90_000);
    await b.register(90_000);

    const CALLS = 2000;
    let answered = 0;
    for (let i = 0; i < CALLS; i++) {
      const kind = i % 4;
      b.behaviour = kind === 1 ? { reject: 486 } : kind === 2 ? { ringOnly: true } : { answer: true };
      if (kind === 2) {
        const p = a.call("802");
        for (let k = 0; k < 200 && !b.incoming; k++) await net.flush();
        await net.flush();
        const tx = a.tx.clientTransactions().filter((t) => t.method === "INVITE" && t.state === "proceeding").at(-1);
        a.tx.cancel(tx as never);
        expect((await p).res.status).toBe(487);
      } else {
        const { res } = await a.call("802");
        if (kind === 1) expect(res.status).toBe(486);
        else {
          expect(res.status).toBe(200);
          a.ack(res);
          await net.flush();
          const bye = kind === 0 ? await a.bye() : await b.bye();
          expect(bye.status).toBe(200);
          answered++;
        }
      }
      b.incoming = undefined;
      a.received.length = 0;
      b.received.length = 0;
      a.responses.length = 0;
      // Let timers run now and then, as they would in real time.
      if (i % 50 === 49) clock.advance(1000);
    }
    expect(answered).toBe(CALLS / 2);
    expect(pbx.calls.size).toBe(0);
    expect(live).toBe(0);
    expect(allocated).toBe(CALLS);
    // After every transaction's and dialog's linger time, nothing is left.
    for (let s = 0; s < 70; s++) {
      clock.advance(1000);
      await net.flush();
    }
    expect(pbx.dialogCount).toBe(0);
    for (const layer of [gwTx, a.tx, b.tx]) expect(layer.stats()).toMatchObject({ clients: 0, servers: 0, awaitingAck: 0 });
    expect(gwTx.stats().timers).toBe(0);
    pbx.close();
    await registrar.close();
    for (const t of [gwTx, a.tx, b.tx]) t.close();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
