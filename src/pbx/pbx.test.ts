import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../clock.js";
import { silentLogger } from "../log.js";
import type { CallEvent } from "../events.js";
import { callId, createRequest, getHeader, fromAddr, maxForwards, toAddr } from "../sip/message/index.js";
import type { SipResponse } from "../sip/message/types.js";
import { createMemoryNetwork, type MemoryNetwork } from "../sip/transport.js";
import { TransactionLayer } from "../sip/transaction/layer.js";
import { DigestServer } from "../sip/digest.js";
import { BindingsStore } from "./bindings-store.js";
import { Registrar } from "./registrar.js";
import { Lockout } from "./lockout.js";
import { ExtensionAuth } from "./auth.js";
import { Dialplan } from "./dialplan.js";
import { Pbx } from "./pbx.js";
import { passThroughMedia, type CallMediaFactory } from "./call-media.js";
import type { CallTarget, SipSide } from "./call.js";
import { TestPhone, PHONE_SDP, until } from "./test-phone.js";

const GW = { address: "198.18.0.1", port: 5060 };

describe("PBX: registrar + B2BUA over the in-memory network", () => {
  let net: MemoryNetwork;
  let dir: string;
  let pbx: Pbx;
  let registrar: Registrar;
  let gwTx: TransactionLayer;
  let a: TestPhone;
  let b: TestPhone;
  let b2: TestPhone;
  let events: CallEvent[];

  beforeEach(async () => {
    net = createMemoryNetwork();
    dir = mkdtempSync(join(tmpdir(), "hgw-pbx-"));
    const log = silentLogger();
    const clock = systemClock;
    gwTx = new TransactionLayer({ transport: net.transport(GW), log, clock });
    const extensions = [
      { number: "801", password: "secret801", name: "Alice" },
      { number: "802", password: "secret802", name: "Bob" },
    ];
    const digest = new DigestServer({ realm: "test", clock });
    const lockout = new Lockout({ clock, log, maxFailures: 3, lockMs: 60_000 });
    const auth = new ExtensionAuth({ extensions, digest, lockout, log, clock });
    registrar = new Registrar({ auth, extensions, realm: "test", store: new BindingsStore({ stateDir: dir, clock, log }), clock, log, digest, lockout });
    events = [];
    pbx = new Pbx({
      tx: gwTx,
      registrar,
      auth,
      dialplan: new Dialplan([
        { match: "^80[1-9]$", to: "extension" },
        { match: "^0120$", to: "802" },
        { match: "^0[0-9]+$", to: "trunk" },
      ]),
      media: passThroughMedia,
      extensions,
      clock,
      log,
      localHost: GW.address,
      localPort: GW.port,
      ringTimeoutMs: 400,
      onCallEvent: (ev) => events.push(ev),
    });
    a = new TestPhone(net, { address: "198.18.0.11", port: 5060 }, "801", "secret801", GW, clock);
    b = new TestPhone(net, { address: "198.18.0.12", port: 5060 }, "802", "secret802", GW, clock);
    b2 = new TestPhone(net, { address: "198.18.0.13", port: 5062 }, "802", "secret802", GW, clock);
  });

  afterEach(async () => {
    pbx.close();
    await registrar.close();
    for (const t of [gwTx, a.tx, b.tx, b2.tx]) t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("registers with digest and refuses a wrong password with 403", async () => {
    const r = await a.register();
    expect(`${r.status} ${r.reason}`).toBe("200 OK");
    expect(registrar.lookup("801")).toHaveLength(1);
    const bad = new TestPhone(net, { address: "198.18.0.20", port: 5060 }, "802", "wrong", GW, systemClock);
    expect((await bad.register()).status).toBe(403);
    bad.tx.close();
  });

  it("carries a call 801 → 802: separate Call-IDs, Max-Forwards decremented, caller named, BYE both ways", async () => {
    await a.register();
    await b.register();
    const { res, invite } = await a.call("802");
    expect(res.status).toBe(200);
    expect(a.responses.some((r) => r.status === 407)).toBe(true);
    expect(a.responses.some((r) => r.status === 180)).toBe(true);
    a.ack(res);
    const inv = b.received.find((r) => r.method === "INVITE")!;
    expect(callId(inv)).not.toBe(callId(invite));
    expect(maxForwards(inv)).toBe(69);
    expect(fromAddr(inv).uri.user).toBe("801");
    expect(fromAddr(inv).displayName).toBe("Alice");
    expect(inv.body.toString()).toContain("m=audio 40000");
    expect(res.body.toString()).toContain("m=audio 42000");
    await until(() => b.received.some((r) => r.method === "ACK"));
    expect(pbx.calls.size).toBe(1);
    const byeRes = await a.bye();
    expect(byeRes.status).toBe(200);
    await until(() => b.received.some((r) => r.method === "BYE"));
    expect(pbx.calls.size).toBe(0);
    expect(events.map((e) => e.type)).toEqual(["incoming", "answered", "ended"]);
    expect(events[2].reason).toBe("caller hung up");
  });

  it("hangs up from the callee side too", async () => {
    await a.register();
    await b.register();
    const { res } = await a.call("802");
    a.ack(res);
    await until(() => b.received.some((r) => r.method === "ACK"));
    expect((await b.bye()).status).toBe(200);
    await until(() => a.received.some((r) => r.method === "BYE"));
    expect(events.at(-1)?.reason).toBe("callee hung up");
  });

  it("forks to every device of an extension; first answer wins, the others are cancelled", async () => {
    await a.register();
    await b.register();
    await b2.register();
    b.behaviour = { ringOnly: true };
    b2.behaviour = { answer: true, ringMs: 30 };
    const { res } = await a.call("802");
    expect(res.status).toBe(200);
    a.ack(res);
    await until(() => b.received.some((r) => r.method === "CANCEL"));
    expect(b2.received.some((r) => r.method === "ACK")).toBe(true);
  });

  it("busy callee: 486 reaches the caller", async () => {
    await a.register();
    await b.register();
    b.behaviour = { reject: 486 };
    const { res } = await a.call("802");
    expect(res.status).toBe(486);
    expect(events.at(-1)?.type).toBe("rejected");
  });

  it("no answer: 480 after the ring timeout and the callee is cancelled", async () => {
    await a.register();
    await b.register();
    b.behaviour = { ringOnly: true };
    const { res } = await a.call("802");
    expect(res.status).toBe(480);
    await until(() => b.received.some((r) => r.method === "CANCEL"));
    expect(events.at(-1)?.type).toBe("missed");
  });

  it("unknown number 404, unregistered extension 480, trunk 503 until it exists, mapped number rings its user", async () => {
    await a.register();
    expect((await a.call("999")).res.status).toBe(404);
    expect((await a.call("803")).res.status).toBe(404);
    expect((await a.call("802")).res.status).toBe(480);
    expect((await a.call("0312345678")).res.status).toBe(503);
    await b.register();
    const { res } = await a.call("0120");
    expect(res.status).toBe(200);
    a.ack(res);
  });

  it("answers out-of-dialog requests with a To tag; 420 with Unsupported for a Require it does not do", async () => {
    const ask = (method: string, headers: { name: string; value: string }[] = []) =>
      a.request(
        createRequest({ method, uri: `sip:802@${GW.address}`, from: `<sip:801@${GW.address}>`, to: `<sip:802@${GW.address}>`, cseq: 1, headers }),
        false,
      );
    const tagged = (r: SipResponse) => toAddr(r).params.get("tag");
    const options = await ask("OPTIONS");
    expect(options.status).toBe(200);
    expect(tagged(options)).toBeTruthy();
    expect(getHeader(options, "allow")).not.toMatch(/NOTIFY|REFER/);
    const notify = await ask("NOTIFY");
    expect([notify.status, Boolean(tagged(notify))]).toEqual([405, true]);
    expect((await ask("SUBSCRIBE", [{ name: "event", value: "presence" }])).status).toBe(489);
    expect((await ask("BYE")).status).toBe(481);
    const required = await ask("OPTIONS", [{ name: "require", value: "100rel, Foo" }]);
    expect(required.status).toBe(420);
    expect(getHeader(required, "unsupported")).toBe("100rel, foo");
    expect(tagged(required)).toBeTruthy();
    // An INVITE requiring 100rel is refused before authentication and before any phone rings.
    await b.register();
    const inv = await ask("INVITE", [{ name: "require", value: "100rel" }]);
    expect(inv.status).toBe(420);
    expect(b.received.some((r) => r.method === "INVITE")).toBe(false);
  });

  it("a phone whose flow moves mid-call (re-registered from a new NAT mapping) gets its BYE at the new address", async () => {
    await a.register();
    await b.register();
    const { res } = await a.call("802");
    a.ack(res);
    await until(() => b.received.some((r) => r.method === "ACK"));
    const moved = new TestPhone(net, { address: "198.18.0.42", port: 41000 }, "802", "secret802", GW, systemClock);
    const binding = registrar.lookup("802")[0]!;
    registrar.emit("binding-moved", { ...binding, source: moved.local }, b.local);
    expect((await a.bye()).status).toBeGreaterThanOrEqual(200);
    await until(() => moved.received.some((r) => r.method === "BYE"));
    expect(b.received.some((r) => r.method === "BYE")).toBe(false);
    moved.tx.close();
  });

  it("refuses unauthenticated callers", async () => {
    await b.register();
    const stranger = new TestPhone(net, { address: "198.18.0.30", port: 5060 }, "801", "nope", GW, systemClock);
    const { res } = await stranger.call("802");
    expect(res.status).toBe(403);
    expect(b.received.some((r) => r.method === "INVITE")).toBe(false);
    stranger.tx.close();
  });

  it("passes a hold re-INVITE through and returns the answer", async () => {
    await a.register();
    await b.register();
    const { res } = await a.call("802");
    a.ack(res);
    await until(() => b.received.some((r) => r.method === "ACK"));
    const hold = PHONE_SDP("198.18.0.11", 40000).replace("a=sendrecv", "a=sendonly");
    const r2 = await a.reinvite(hold);
    expect(r2.status).toBe(200);
    const reinv = b.received.filter((r) => r.method === "INVITE").at(-1)!;
    expect(reinv.body.toString()).toContain("a=sendonly");
    expect(getHeader(reinv, "to")).toContain("tag=");
  });

  it("answers CANCEL before answer with 487 and cancels the callee", async () => {
    await a.register();
    await b.register();
    b.behaviour = { ringOnly: true };
    const p = a.call("802");
    await until(() => b.received.some((r) => r.method === "INVITE"));
    await until(() => a.responses.some((r) => r.status === 180));
    const inviteTx = [...(a.tx as unknown as { clients: Map<string, { method: string; state: string }> }).clients.values()].find((t) => t.method === "INVITE" && t.state === "proceeding");
    a.tx.cancel(inviteTx as never);
    const { res } = await p;
    expect(res.status).toBe(487);
    await until(() => b.received.some((r) => r.method === "CANCEL"));
    expect(events.at(-1)?.type).toBe("missed");
  });
});

describe("PBX: a side's channels (admission before media, hangupOn)", () => {
  let net: MemoryNetwork;
  let dir: string;
  let pbx: Pbx;
  let registrar: Registrar;
  let gwTx: TransactionLayer;
  let a: TestPhone;
  let b: TestPhone;
  let line: TestPhone;
  let side: SipSide;
  /** Media creation waits for the test to open this gate (a slow relay port allocation). */
  let gate: () => void;
  let gateOpen: Promise<void>;

  beforeEach(async () => {
    net = createMemoryNetwork();
    dir = mkdtempSync(join(tmpdir(), "hgw-pbx-"));
    const log = silentLogger();
    const clock = systemClock;
    gwTx = new TransactionLayer({ transport: net.transport(GW), log, clock });
    const extensions = [
      { number: "801", password: "secret801" },
      { number: "802", password: "secret802" },
    ];
    const digest = new DigestServer({ realm: "test", clock });
    const lockout = new Lockout({ clock, log });
    const auth = new ExtensionAuth({ extensions, digest, lockout, log, clock });
    registrar = new Registrar({ auth, extensions, realm: "test", store: new BindingsStore({ stateDir: dir, clock, log }), clock, log, digest, lockout });
    gateOpen = new Promise((r) => (gate = r));
    const slowMedia: CallMediaFactory = { create: async (id) => gateOpen.then(() => passThroughMedia.create(id)) };
    pbx = new Pbx({
      tx: gwTx, registrar, auth, media: slowMedia, extensions, clock, log,
      dialplan: new Dialplan([{ match: "^0[0-9]+$", to: "trunk" }]),
      localHost: GW.address, localPort: GW.port, ringTimeoutMs: 5000,
    });
    // A one-channel "trunk" that is just another SIP side, ringing a stand-in for the line.
    side = { name: "trunk", tx: gwTx, host: GW.address, port: GW.port };
    line = new TestPhone(net, { address: "198.18.0.40", port: 5060 }, "line", "x", GW, clock);
    line.behaviour = { ringOnly: true };
    pbx.setTrunk({
      outboundTarget: (dialled): CallTarget | { status: number; reason: string } => {
        if (pbx.activeOn(side) >= 1) return { status: 486, reason: "Line Busy" };
        const uri = { scheme: "sip" as const, user: dialled, host: "198.18.0.40", port: 5060, params: new Map(), headers: new Map() };
        return { side, uri, destination: line.local, to: { uri, params: new Map() }, label: "line" };
      },
    });
    a = new TestPhone(net, { address: "198.18.0.11", port: 5060 }, "801", "secret801", GW, clock);
    b = new TestPhone(net, { address: "198.18.0.12", port: 5060 }, "802", "secret802", GW, clock);
    await a.register();
    await b.register();
  });

  afterEach(async () => {
    gate();
    pbx.close();
    await registrar.close();
    for (const t of [gwTx, a.tx, b.tx, line.tx]) t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("two phones dialling out at once with one channel: one call goes out, the other hears 486", async () => {
    const first = a.call("0399990000");
    const second = b.call("0399990001");
    // Both INVITEs are in: the first waits for its media, the second must already see the channel taken.
    const busy = await Promise.race([second, first]);
    expect(busy.res.status).toBe(486);
    expect(pbx.activeOn(side)).toBe(1);
    gate();
    await until(() => line.received.some((r) => r.method === "INVITE"));
    await net.flush();
    expect(line.received.filter((r) => r.method === "INVITE")).toHaveLength(1);
    expect(pbx.hangupOn(side, "test")).toBe(1);
    const outcomes = await Promise.all([first, second]);
    expect(outcomes.map((o) => o.res.status).sort()).toEqual([480, 486]);
    expect(pbx.activeOn(side)).toBe(0);
  });

  it("hangupOn(side) refuses a call still waiting for media (503) and cancels a ringing one (480 to the caller, CANCEL to the callee)", async () => {
    const waiting = b.call("0399990001");
    await until(() => pbx.activeOn(side) === 1);
    const other: SipSide = { name: "other", tx: gwTx, host: GW.address, port: GW.port };
    expect(pbx.activeOn(other)).toBe(0);
    expect(pbx.hangupOn(other, "not this side")).toBe(0);
    expect(pbx.hangupOn(side, "lease changed")).toBe(1);
    expect((await waiting).res.status).toBe(503);
    expect(pbx.activeOn(side)).toBe(0);
    gate();
    await net.flush();
    expect(line.received.some((r) => r.method === "INVITE")).toBe(false);
    expect(pbx.calls.size).toBe(0);

    const ringing = a.call("0399990000");
    await until(() => line.received.some((r) => r.method === "INVITE"));
    expect(pbx.hangupOn(side, "lease changed")).toBe(1);
    expect((await ringing).res.status).toBe(480);
    await until(() => line.received.some((r) => r.method === "CANCEL"));
    expect(pbx.activeOn(side)).toBe(0);
  });
});
