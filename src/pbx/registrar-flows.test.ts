/**
 * The registrar's bindings as the PBX rings them, end to end over the in-memory network:
 * one INVITE per device whatever the phones do with Call-ID and Contact (R2 review T4, T8).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { createRequest } from "../sip/message/index.js";
import { createMemoryNetwork, type MemoryNetwork } from "../sip/transport.js";
import { TransactionLayer } from "../sip/transaction/layer.js";
import { DigestServer } from "../sip/digest.js";
import { BindingsStore } from "./bindings-store.js";
import { Registrar } from "./registrar.js";
import { Lockout } from "./lockout.js";
import { ExtensionAuth } from "./auth.js";
import { Dialplan } from "./dialplan.js";
import { Pbx } from "./pbx.js";
import { passThroughMedia } from "./call-media.js";
import { TestPhone } from "./test-phone.js";

const GW = { address: "198.18.0.1", port: 5060 };

describe("registrar flows as the PBX rings them", () => {
  let net: MemoryNetwork;
  let dir: string;
  let pbx: Pbx;
  let registrar: Registrar;
  let gwTx: TransactionLayer;
  const phones: TestPhone[] = [];

  const phone = (address: string, number: string, password: string): TestPhone => {
    const p = new TestPhone(net, { address, port: 5060 }, number, password, GW, systemClock);
    p.behaviour = { ringOnly: true };
    phones.push(p);
    return p;
  };
  /** A REGISTER with the Contact and Call-ID a real phone would choose. */
  const register = (p: TestPhone, contact: string, callId: string, seq = 1) =>
    p.request(
      createRequest({
        method: "REGISTER",
        uri: `sip:${GW.address}`,
        from: `<sip:${p.number}@${GW.address}>`,
        to: `<sip:${p.number}@${GW.address}>`,
        callId,
        cseq: seq,
        contact,
        headers: [{ name: "expires", value: "600" }],
      }),
    );
  const invites = (p: TestPhone) => p.received.filter((r) => r.method === "INVITE").length;

  beforeEach(() => {
    net = createMemoryNetwork();
    dir = mkdtempSync(join(tmpdir(), "hgw-flows-"));
    const log = silentLogger();
    const clock = systemClock;
    gwTx = new TransactionLayer({ transport: net.transport(GW), log, clock });
    const extensions = [
      { number: "801", password: "secret801" },
      { number: "802", password: "secret802" },
    ];
    const digest = new DigestServer({ realm: "test", clock });
    const lockout = new Lockout({ clock, log, maxFailures: 3, lockMs: 60_000 });
    const auth = new ExtensionAuth({ extensions, digest, lockout, log, clock });
    registrar = new Registrar({ auth, extensions, realm: "test", store: new BindingsStore({ stateDir: dir, clock, log }), clock, log, digest, lockout });
    const dialplan = new Dialplan([{ match: "^80[1-9]$", to: "extension" }]);
    pbx = new Pbx({ tx: gwTx, registrar, auth, dialplan, media: passThroughMedia, extensions, clock, log, localHost: GW.address, localPort: GW.port, ringTimeoutMs: 150 });
  });

  afterEach(async () => {
    pbx.close();
    await registrar.close();
    gwTx.close();
    for (const p of phones.splice(0)) p.tx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("rings a phone that restarted with a new Call-ID and ;rinstance= once, not twice", async () => {
    const a = phone("198.18.0.11", "801", "secret801");
    const b = phone("198.18.0.12", "802", "secret802");
    expect((await a.register()).status).toBe(200);
    expect((await register(b, "<sip:802@198.18.0.12:5060;rinstance=boot1>", "boot-1")).status).toBe(200);
    expect((await register(b, "<sip:802@198.18.0.12:5060;rinstance=boot2>", "boot-2")).status).toBe(200);
    await a.call("802"); // ends with the ring timeout: every fork has been sent by then
    expect(invites(b)).toBe(1);
    expect(b.received.find((r) => r.method === "INVITE")!.uri.params.get("rinstance")).toBe("boot2");
  });

  it("rings both devices of one extension behind different NATs with the same private Contact", async () => {
    const a = phone("198.18.0.11", "801", "secret801");
    const p1 = phone("198.18.0.21", "802", "secret802");
    const p2 = phone("198.18.0.22", "802", "secret802");
    expect((await a.register()).status).toBe(200);
    expect((await register(p1, "<sip:802@192.168.1.10:5060>", "nat-1")).status).toBe(200);
    expect((await register(p2, "<sip:802@192.168.1.10:5060>", "nat-2")).status).toBe(200);
    await a.call("802");
    expect([invites(p1), invites(p2)]).toEqual([1, 1]);
  });

  it("rings a phone once when one REGISTER gave it two contacts", async () => {
    const a = phone("198.18.0.11", "801", "secret801");
    const b = phone("198.18.0.12", "802", "secret802");
    expect((await a.register()).status).toBe(200);
    expect((await register(b, "<sip:802@198.18.0.12:5060>, <sip:802@198.18.0.12:5060;line=2>", "two")).status).toBe(200);
    await a.call("802");
    expect(invites(b)).toBe(1);
  });
});
