/**
 * The trunk's lifecycle: lease changes, the lease going away, shutdown, a failed refresh,
 * and the channel limit, over the in-memory network (and one real loopback socket pair,
 * where the point is that the datagram leaves before the socket closes).
 */
import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock, systemClock, type Clock } from "../clock.js";
import { silentLogger } from "../log.js";
import type { TrunkState } from "../events.js";
import type { Endpoint, SipRequest } from "../sip/message/types.js";
import { createRequest, createResponse, getHeader, newTag, setHeader } from "../sip/message/index.js";
import { createMemoryNetwork, type MemoryNetwork, type Transport } from "../sip/transport.js";
import { UdpTransport } from "../sip/transport-udp.js";
import { TransactionLayer, type ServerTransaction } from "../sip/transaction/layer.js";
import { DigestServer } from "../sip/digest.js";
import { BindingsStore } from "../pbx/bindings-store.js";
import { Registrar } from "../pbx/registrar.js";
import { Lockout } from "../pbx/lockout.js";
import { ExtensionAuth } from "../pbx/auth.js";
import { Dialplan } from "../pbx/dialplan.js";
import { Pbx } from "../pbx/pbx.js";
import { passThroughMedia, type CallMediaFactory } from "../pbx/call-media.js";
import { TestPhone, until } from "../pbx/test-phone.js";
import { DRAIN_MS, Trunk, type TrunkLine } from "./trunk.js";

const GW_LAN = { address: "198.18.0.1", port: 5060 };
const WAN = { address: "198.18.4.2", port: 5060 };
const WAN2 = { address: "198.18.4.6", port: 5060 };
const NGN = { address: "198.18.5.1", port: 5060 };
const DOMAIN = "ntt-east.ne.jp";
const LINE: TrunkLine = { localAddress: WAN.address, server: NGN.address, domain: DOMAIN, number: "0312345678", additionalNumbers: [] };
const NGN_SDP = `v=0\r\no=- 100 1 IN IP4 198.18.5.9\r\ns=-\r\nc=IN IP4 198.18.5.9\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n`;

/** The NGN's P-CSCF, reduced to what the lifecycle needs; it remembers who sent what. */
class FakeNgn {
  readonly tx: TransactionLayer;
  readonly seen: { req: SipRequest; from: Endpoint }[] = [];
  /** INVITEs: answer 200 at once (default), or only ring. */
  ringOnly = false;
  /** Leave BYEs unanswered (a lost answer, or an NGN in trouble). */
  ignoreBye = false;
  /** Answer REGISTERs with this status instead of 200. */
  registerStatus = 200;
  constructor(transport: Transport, clock: Clock) {
    this.tx = new TransactionLayer({ transport, log: silentLogger(), clock });
    this.tx.onRequest((req, tx, from) => this.onRequest(req, tx, from));
  }
  methods(m: string): { req: SipRequest; from: Endpoint }[] {
    return this.seen.filter((s) => s.req.method === m);
  }
  private onRequest(req: SipRequest, tx: ServerTransaction | undefined, from: Endpoint): void {
    this.seen.push({ req, from });
    if (!tx) return;
    if (req.method === "REGISTER") {
      if (this.registerStatus !== 200) return tx.respond(createResponse(req, this.registerStatus));
      const ok = createResponse(req, 200, "OK", { toTag: newTag() });
      setHeader(ok, "contact", `${getHeader(req, "contact")};expires=${getHeader(req, "expires")}`);
      return tx.respond(ok);
    }
    if (req.method === "INVITE") {
      const tag = newTag();
      tx.respond(createResponse(req, 180, "Ringing", { toTag: tag }));
      tx.onCancel = () => tx.respond(createResponse(req, 487, "Request Terminated", { toTag: tag }));
      if (this.ringOnly) return;
      const ok = createResponse(req, 200, "OK", { toTag: tag, body: Buffer.from(NGN_SDP), contentType: "application/sdp" });
      setHeader(ok, "contact", `<sip:${NGN.address}:5060>`);
      setHeader(ok, "session-expires", "300;refresher=uas");
      setHeader(ok, "require", "timer");
      return tx.respond(ok);
    }
    if (req.method === "BYE" && this.ignoreBye) return;
    tx.respond(createResponse(req, 200));
  }
  /** An inbound call from the line to `to` (our Contact). */
  invite(to: Endpoint = WAN): Promise<number> {
    const req = createRequest({
      method: "INVITE", uri: `sip:0312345678@${to.address}:${to.port}`, from: `<sip:0398765432@${DOMAIN}>`, to: `<sip:0312345678@${DOMAIN}>`,
      contact: `<sip:${NGN.address}:5060>`, body: Buffer.from(NGN_SDP), contentType: "application/sdp",
      headers: [{ name: "session-expires", value: "300;refresher=uac" }, { name: "p-asserted-identity", value: `<sip:0398765432@${DOMAIN}>` }],
    });
    return new Promise((resolve, reject) =>
      this.tx.sendRequest(req, to, { onResponse: (res) => res.status >= 200 && resolve(res.status), onTimeout: () => reject(new Error("timeout")), onTransportError: (_t, e) => reject(e) }),
    );
  }
}

interface Rig {
  net?: MemoryNetwork;
  clock: Clock;
  pbx: Pbx;
  trunk: Trunk;
  ngn: FakeNgn;
  phone: TestPhone;
  phone2: TestPhone;
  states: TrunkState[];
  close(): Promise<void>;
}

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/**
 * A PBX with two phones (in memory) and a one-channel trunk. The WAN side is in memory too,
 * unless `udp` names loopback addresses: then the trunk and the NGN talk over real sockets.
 */
async function build(o: { clock?: Clock; media?: CallMediaFactory; udp?: { wan: string; ngn: string } } = {}): Promise<Rig> {
  const clock = o.clock ?? systemClock;
  const net = createMemoryNetwork({ now: () => clock.now() });
  const dir = mkdtempSync(join(tmpdir(), "hgw-trunk-life-"));
  const log = silentLogger();
  const gwTx = new TransactionLayer({ transport: net.transport(GW_LAN), log, clock });
  const extensions = [{ number: "801", password: "secret801" }, { number: "802", password: "secret802" }];
  const digest = new DigestServer({ realm: "test", clock });
  const lockout = new Lockout({ clock, log });
  const auth = new ExtensionAuth({ extensions, digest, lockout, log, clock });
  const registrar = new Registrar({ auth, extensions, realm: "test", store: new BindingsStore({ stateDir: dir, clock, log }), clock, log, digest, lockout });
  const pbx = new Pbx({
    tx: gwTx, registrar, auth, media: o.media ?? passThroughMedia, extensions, clock, log,
    dialplan: new Dialplan([{ match: "^0[0-9]+$", to: "trunk" }]),
    localHost: GW_LAN.address, localPort: GW_LAN.port, ringTimeoutMs: 60_000,
  });
  const ngnTransport = o.udp ? await UdpTransport.bind({ address: o.udp.ngn, port: 0, log }) : net.transport(NGN);
  const ngn = new FakeNgn(ngnTransport, clock);
  const states: TrunkState[] = [];
  const trunk = new Trunk({
    pbx, clock, log, serverPort: ngnTransport.local.port, localPort: o.udp ? 0 : 5060, registerExpires: 3600, refreshRatio: 0.45, channels: 1, sessionExpires: 300,
    ring: ["801"], ringByNumber: {}, callerIdOf: () => undefined, dnd: () => false,
    onState: (s) => states.push({ ...s }),
    openTransport: o.udp ? undefined : async (local) => net.transport(local),
  });
  pbx.setTrunk(trunk);
  const phone = new TestPhone(net, { address: "198.18.0.11", port: 5060 }, "801", "secret801", GW_LAN, clock);
  const phone2 = new TestPhone(net, { address: "198.18.0.12", port: 5060 }, "802", "secret802", GW_LAN, clock);
  return {
    net, clock, pbx, trunk, ngn, phone, phone2, states,
    async close() {
      pbx.close();
      if (clock instanceof ManualClock) clock.advance(DRAIN_MS);
      await trunk.stop().catch(() => undefined);
      await registrar.close();
      for (const t of [gwTx, ngn.tx, phone.tx, phone2.tx]) t.close();
      await ngnTransport.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Let the in-memory network deliver, advancing a manual clock in steps. */
async function settle(r: Rig, ms = 0, step = 1000): Promise<void> {
  const clock = r.clock as ManualClock;
  await r.net!.flush();
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    await r.net!.flush();
  }
}

async function answeredOutboundCall(r: Rig): Promise<void> {
  await r.phone.register();
  const { res } = await r.phone.call("0399990000");
  expect(res.status).toBe(200);
  r.phone.ack(res);
  await until(() => r.ngn.methods("ACK").length > 0);
}

describe("trunk lifecycle: a lease change", () => {
  it("ends an answered call first (BYE from the old address), then registers from the new one; the channel is free again", async () => {
    const r = (rig = await build());
    await r.trunk.configure(LINE);
    await until(() => r.trunk.status.state === "registered");
    await answeredOutboundCall(r);

    await r.trunk.configure({ ...LINE, localAddress: WAN2.address });
    await until(() => r.trunk.status.state === "registered" && r.ngn.methods("REGISTER").length === 2);
    const order = r.ngn.seen.map((s) => `${s.req.method} ${s.from.address}`);
    const bye = order.indexOf(`BYE ${WAN.address}`);
    expect(bye).toBeGreaterThan(0);
    expect(order.indexOf(`REGISTER ${WAN2.address}`)).toBeGreaterThan(bye);
    await until(() => r.phone.received.some((m) => m.method === "BYE"));
    expect(r.pbx.calls.size).toBe(0);
    // The one channel is free: a new call goes out from the new address.
    await r.phone2.register();
    const { res } = await r.phone2.call("0399990001");
    expect(res.status).toBe(200);
    expect(r.ngn.methods("INVITE").at(-1)!.from.address).toBe(WAN2.address);
  });

  it("cancels a ringing outbound call and answers an unanswered inbound one 480 before closing the old socket", async () => {
    const r = (rig = await build());
    await r.trunk.configure(LINE);
    await until(() => r.trunk.status.state === "registered");
    await r.phone.register();
    r.ngn.ringOnly = true;
    const outbound = r.phone.call("0399990000");
    await until(() => r.ngn.methods("INVITE").length === 1);
    await r.trunk.configure({ ...LINE, localAddress: WAN2.address });
    // (The NGN's transaction layer answers CANCEL itself: look at the wire.)
    const wire = r.net!.log.filter((d) => d.to.address === NGN.address).map((d) => `${d.data.toString().split(" ")[0]} ${d.from.address}`);
    const cancels = r.net!.log.filter((d) => d.to.address === NGN.address && d.data.toString().startsWith("CANCEL "));
    // The CANCEL went out (and the INVITE got its 487, ACKed) before the new address registered.
    expect(wire.indexOf(`ACK ${WAN.address}`)).toBeLessThan(wire.indexOf(`REGISTER ${WAN2.address}`));
    expect(cancels.map((d) => d.from.address)).toEqual([WAN.address]);
    expect((await outbound).res.status).toBe(480);

    r.phone.behaviour = { ringOnly: true };
    const inbound = r.ngn.invite(WAN2);
    await until(() => r.phone.received.some((m) => m.method === "INVITE"));
    await r.trunk.configure({ ...LINE, localAddress: WAN.address });
    expect(await inbound).toBe(480);
    await until(() => r.phone.received.some((m) => m.method === "CANCEL"));
    expect(r.pbx.calls.size).toBe(0);
  });

  it("waits a bounded time for an unanswered BYE, then moves on", async () => {
    const clock = new ManualClock(1_000_000);
    const r = (rig = await build({ clock }));
    await r.trunk.configure(LINE);
    await settle(r);
    await r.phone.register();
    const call = r.phone.call("0399990000");
    await settle(r);
    const { res } = await call;
    r.phone.ack(res);
    r.ngn.ignoreBye = true;
    let done = false;
    const change = r.trunk.configure({ ...LINE, localAddress: WAN2.address }).then(() => (done = true));
    await settle(r, DRAIN_MS - 500, 500);
    expect(r.ngn.methods("BYE").length).toBeGreaterThan(0);
    expect(done).toBe(false);
    expect(r.ngn.methods("REGISTER")).toHaveLength(1);
    await settle(r, 1000, 500);
    await change;
    await settle(r);
    expect(r.ngn.methods("REGISTER").map((s) => s.from.address)).toEqual([WAN.address, WAN2.address]);
  });

  it("starts no call on the old line while it drains: an outbound call gets 503, an inbound INVITE 503", async () => {
    const clock = new ManualClock(1_000_000);
    const r = (rig = await build({ clock }));
    await r.trunk.configure(LINE);
    await settle(r);
    await r.phone.register();
    const call = r.phone.call("0399990000");
    await settle(r);
    const { res } = await call;
    r.phone.ack(res);
    r.ngn.ignoreBye = true;
    const change = r.trunk.configure({ ...LINE, localAddress: WAN2.address });
    await settle(r, 500, 250);
    // Mid-drain (the BYE is unanswered): a second phone dials out, and the NGN calls in.
    await r.phone2.register();
    const second = r.phone2.call("0399990001");
    const inbound = r.ngn.invite(WAN);
    await settle(r, 200, 100);
    expect((await second).res.status).toBe(503);
    expect(await inbound).toBe(503);
    expect(r.ngn.methods("INVITE")).toHaveLength(1);
    await settle(r, DRAIN_MS, 500);
    await change;
    await settle(r);
    expect(r.pbx.calls.size).toBe(0);
  });

  it("stops the old registration: only the new one refreshes, status stays registered, expires_at moves on each refresh", async () => {
    const clock = new ManualClock(1_000_000);
    const r = (rig = await build({ clock }));
    await r.trunk.configure(LINE);
    await settle(r);
    await r.trunk.configure({ ...LINE, localAddress: WAN2.address });
    await settle(r);
    expect(r.trunk.status.state).toBe("registered");
    const firstExpiry = r.trunk.status.expires_at;
    await settle(r, 1_700_000, 50_000);
    const regs = r.ngn.methods("REGISTER");
    expect(regs.map((s) => getHeader(s.req, "contact"))).toEqual([
      `<sip:0312345678@${WAN.address}:5060>`,
      `<sip:0312345678@${WAN2.address}:5060>`,
      `<sip:0312345678@${WAN2.address}:5060>`,
    ]);
    expect(r.states.some((s) => s.state === "failed")).toBe(false);
    expect(r.trunk.status.state).toBe("registered");
    expect(r.trunk.status.expires_at).not.toBe(firstExpiry);
    // The refresh's own event carried the new expiry (state name unchanged).
    expect(Date.parse(r.trunk.status.expires_at!) - Date.parse(firstExpiry!)).toBeGreaterThanOrEqual(1_620_000);
    expect(r.states.at(-1)).toMatchObject({ state: "registered", expires_at: r.trunk.status.expires_at });
  });
});

describe("trunk lifecycle: the lease goes away", () => {
  it("down() ends the calls on the line (BYE), frees the channel and shows acquiring", async () => {
    const r = (rig = await build());
    await r.trunk.configure(LINE);
    await until(() => r.trunk.status.state === "registered");
    await answeredOutboundCall(r);
    await r.trunk.down("DHCP lease expired");
    expect(r.ngn.methods("BYE")).toHaveLength(1);
    expect(r.pbx.calls.size).toBe(0);
    expect(r.trunk.status).toMatchObject({ state: "acquiring", last_error: "DHCP lease expired" });
    expect(r.trunk.outboundTarget("0399990000", "801")).toMatchObject({ status: 503 });
    await r.trunk.configure(LINE);
    await until(() => r.trunk.status.state === "registered");
    expect(r.trunk.outboundTarget("0399990000", "801")).not.toHaveProperty("status");
  });
});

describe("trunk lifecycle: shutdown", () => {
  it("stop(): BYE answered first, then the unregister, then the socket closes; an unanswered BYE holds it at most DRAIN_MS", async () => {
    const clock = new ManualClock(1_000_000);
    const r = (rig = await build({ clock }));
    await r.trunk.configure(LINE);
    await settle(r);
    await r.phone.register();
    const call = r.phone.call("0399990000");
    await settle(r);
    r.phone.ack((await call).res);
    await settle(r);
    r.ngn.ignoreBye = true;
    let stopped = false;
    r.pbx.close(); // the gateway's first step: BYE both legs
    const stop = r.trunk.stop().then(() => (stopped = true));
    await settle(r, DRAIN_MS - 500, 250);
    expect(r.ngn.methods("BYE").length).toBeGreaterThan(0); // sent, and retransmitted (Timer E)
    expect(stopped).toBe(false);
    expect(r.ngn.methods("REGISTER")).toHaveLength(1); // no unregister yet
    await settle(r, 750, 250);
    await stop;
    const unregister = r.ngn.methods("REGISTER")[1]!;
    expect(getHeader(unregister.req, "expires")).toBe("0");
    expect(r.trunk.status.state).toBe("disabled");
  });

  it("over a real socket: the BYE to the NGN leaves before the socket closes, even with nothing registered to wait for", async () => {
    const r = (rig = await build({ udp: { wan: "127.0.0.1", ngn: "127.0.0.2" } }));
    r.ngn.registerStatus = 403; // nothing to unregister: stop() has no REGISTER to wait on
    await r.trunk.configure({ ...LINE, localAddress: "127.0.0.1", server: "127.0.0.2" });
    await until(() => r.trunk.status.state === "failed");
    await r.phone.register();
    const inbound = r.ngn.invite(await wanOf(r));
    expect(await inbound).toBe(200);
    await until(() => r.pbx.calls.size === 1 && [...r.pbx.calls][0]!.state === "answered");
    r.pbx.close();
    await r.trunk.stop();
    // The NGN got the BYE and its answer went back before the trunk's socket closed.
    expect(r.ngn.methods("BYE")).toHaveLength(1);
  });
});

/** The trunk's bound UDP address (the test lets the kernel pick the port). */
async function wanOf(r: Rig): Promise<Endpoint> {
  const reg = r.ngn.methods("REGISTER")[0]!;
  const m = /@([0-9.]+):(\d+)>/.exec(getHeader(reg.req, "contact")!)!;
  return { address: m[1]!, port: Number(m[2]) };
}

describe("trunk lifecycle: registration failures and the channel limit", () => {
  it("one failed refresh leaves outbound calls working while the registration is valid", async () => {
    const clock = new ManualClock(1_000_000);
    const r = (rig = await build({ clock }));
    await r.trunk.configure(LINE);
    await settle(r);
    r.ngn.registerStatus = 503;
    await settle(r, 1_621_000, 60_000);
    expect(r.ngn.methods("REGISTER")).toHaveLength(2);
    expect(r.trunk.status).toMatchObject({ state: "registered", last_error: "503 Service Unavailable" });
    expect(r.trunk.outboundTarget("0399990000", "801")).not.toHaveProperty("status");
  });

  it("two phones dialling at once with one channel: one INVITE reaches the NGN, the other phone hears 486", async () => {
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const r = (rig = await build({ media: { create: (id) => gate.then(() => passThroughMedia.create(id)) } }));
    r.ngn.ringOnly = true;
    await r.trunk.configure(LINE);
    await until(() => r.trunk.status.state === "registered");
    await r.phone.register();
    await r.phone2.register();
    const calls = [r.phone.call("0399990000"), r.phone2.call("0399990001")];
    const first = await Promise.race(calls);
    expect(first.res.status).toBe(486);
    release();
    await until(() => r.ngn.methods("INVITE").length === 1);
    await r.net!.flush();
    expect(r.ngn.methods("INVITE")).toHaveLength(1);
  });
});
