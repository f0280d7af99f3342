/**
 * The trunk's lifecycle: lease changes, the lease going away, shutdown, a failed refresh,
 * and the channel limit, over the in-memory network (and one real loopback socket pair,
 * where the point is that the datagram leaves before the socket closes).
 */
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import type { Endpoint } from "../sip/message/types.js";
import { getHeader } from "../sip/message/index.js";
import { passThroughMedia } from "../pbx/call-media.js";
import type { TestPhone } from "../../test/support/pbx/phone.js";
import { DRAIN_MS } from "./trunk.js";
import { GatewayRig, LINE, NGN, WAN, type GatewayRigOptions } from "../../test/support/trunk/gateway-rig.js";

const WAN2 = { address: "198.18.4.6", port: 5060 };

interface Rig extends GatewayRig {
  phone: TestPhone;
  phone2: TestPhone;
}

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/**
 * A PBX with two phones (in memory) and a one-channel trunk. The WAN side is in memory too,
 * unless `udpNgn` names a loopback address: then the trunk and the NGN talk over real sockets.
 */
async function build(o: GatewayRigOptions = {}): Promise<Rig> {
  const r = await GatewayRig.create({ settleStepMs: 1000, ...o });
  return Object.assign(r, { phone: r.addPhone("198.18.0.11", "801"), phone2: r.addPhone("198.18.0.12", "802") });
}

/** An inbound call from the line to `to` (our Contact): its final status. */
function callIn(r: Rig, to: Endpoint = WAN): Promise<number> {
  return r.ngn.invite({ to, supported: false }).done.then((res) => res.status);
}

async function answeredOutboundCall(r: Rig): Promise<void> {
  await r.phone.register();
  const { res } = await r.phone.call("0399990000");
  expect(res.status).toBe(200);
  r.phone.ack(res);
  await r.until(() => r.ngn.methods("ACK").length > 0);
}

/** On fake time (the rig is the test's): the line registered, and a call from the phone out on it answered and ACKed. */
async function answeredOnFakeTime(): Promise<Rig> {
  const r = (rig = await build({ clock: new ManualClock(1_000_000) }));
  await r.trunk.configure(LINE);
  await r.settle();
  await r.phone.register();
  const call = r.phone.call("0399990000");
  await r.settle();
  r.phone.ack((await call).res);
  return r;
}

describe("trunk lifecycle: a lease change", () => {
  it("ends an answered call first (BYE from the old address), then registers from the new one; the channel is free again", async () => {
    const r = (rig = await build());
    await r.registerLine();
    await answeredOutboundCall(r);

    await r.trunk.configure({ ...LINE, localAddress: WAN2.address });
    await r.until(() => r.trunk.status.state === "registered" && r.ngn.methods("REGISTER").length === 2);
    const order = r.ngn.heard.map((s) => `${s.req.method} ${s.from.address}`);
    const bye = order.indexOf(`BYE ${WAN.address}`);
    expect(bye).toBeGreaterThan(0);
    expect(order.indexOf(`REGISTER ${WAN2.address}`)).toBeGreaterThan(bye);
    await r.until(() => r.phone.received.some((m) => m.method === "BYE"));
    expect(r.pbx.calls.size).toBe(0);
    // The one channel is free: a new call goes out from the new address.
    await r.phone2.register();
    const { res } = await r.phone2.call("0399990001");
    expect(res.status).toBe(200);
    expect(r.ngn.methods("INVITE").at(-1)!.from.address).toBe(WAN2.address);
  });

  it("cancels a ringing outbound call and answers an unanswered inbound one 480 before closing the old socket", async () => {
    const r = (rig = await build());
    await r.registerLine();
    await r.phone.register();
    r.ngn.answer = "ring";
    const outbound = r.phone.call("0399990000");
    await r.until(() => r.ngn.methods("INVITE").length === 1);
    await r.trunk.configure({ ...LINE, localAddress: WAN2.address });
    // (The NGN's transaction layer answers CANCEL itself: look at the wire.)
    const wire = r.net.log.filter((d) => d.to.address === NGN.address).map((d) => `${d.data.toString().split(" ")[0]} ${d.from.address}`);
    const cancels = r.net.log.filter((d) => d.to.address === NGN.address && d.data.toString().startsWith("CANCEL "));
    // The CANCEL went out (and the INVITE got its 487, ACKed) before the new address registered.
    expect(wire.indexOf(`ACK ${WAN.address}`)).toBeLessThan(wire.indexOf(`REGISTER ${WAN2.address}`));
    expect(cancels.map((d) => d.from.address)).toEqual([WAN.address]);
    expect((await outbound).res.status).toBe(480);

    r.phone.behaviour = { ringOnly: true };
    const inbound = callIn(r, WAN2);
    await r.until(() => r.phone.received.some((m) => m.method === "INVITE"));
    await r.trunk.configure({ ...LINE, localAddress: WAN.address });
    expect(await inbound).toBe(480);
    await r.until(() => r.phone.received.some((m) => m.method === "CANCEL"));
    expect(r.pbx.calls.size).toBe(0);
  });

  it("waits a bounded time for an unanswered BYE, then moves on", async () => {
    const r = await answeredOnFakeTime();
    r.ngn.ignoreBye = true;
    let done = false;
    const change = r.trunk.configure({ ...LINE, localAddress: WAN2.address }).then(() => (done = true));
    await r.settle(DRAIN_MS - 500, 500);
    expect(r.ngn.methods("BYE").length).toBeGreaterThan(0);
    expect(done).toBe(false);
    expect(r.ngn.methods("REGISTER")).toHaveLength(1);
    await r.settle(1000, 500);
    await change;
    await r.settle();
    expect(r.ngn.methods("REGISTER").map((s) => s.from.address)).toEqual([WAN.address, WAN2.address]);
  });

  it("starts no call on the old line while it drains: an outbound call gets 503, an inbound INVITE 503", async () => {
    const r = await answeredOnFakeTime();
    r.ngn.ignoreBye = true;
    const change = r.trunk.configure({ ...LINE, localAddress: WAN2.address });
    await r.settle(500, 250);
    // Mid-drain (the BYE is unanswered): a second phone dials out, and the NGN calls in.
    await r.phone2.register();
    const second = r.phone2.call("0399990001");
    const inbound = callIn(r, WAN);
    await r.settle(200, 100);
    expect((await second).res.status).toBe(503);
    expect(await inbound).toBe(503);
    expect(r.ngn.methods("INVITE")).toHaveLength(1);
    await r.settle(DRAIN_MS, 500);
    await change;
    await r.settle();
    expect(r.pbx.calls.size).toBe(0);
  });

  it("stops the old registration: only the new one refreshes, status stays registered, expires_at moves on each refresh", async () => {
    const clock = new ManualClock(1_000_000);
    const r = (rig = await build({ clock }));
    await r.trunk.configure(LINE);
    await r.settle();
    await r.trunk.configure({ ...LINE, localAddress: WAN2.address });
    await r.settle();
    expect(r.trunk.status.state).toBe("registered");
    const firstExpiry = r.trunk.status.expires_at;
    await r.settle(1_700_000, 50_000);
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
    await r.registerLine();
    await answeredOutboundCall(r);
    await r.trunk.down("DHCP lease expired");
    expect(r.ngn.methods("BYE")).toHaveLength(1);
    expect(r.pbx.calls.size).toBe(0);
    expect(r.trunk.status).toMatchObject({ state: "acquiring", last_error: "DHCP lease expired" });
    expect(r.trunk.outboundTarget("0399990000", "801")).toMatchObject({ status: 503 });
    await r.registerLine();
    expect(r.trunk.outboundTarget("0399990000", "801")).not.toHaveProperty("status");
  });
});

describe("trunk lifecycle: shutdown", () => {
  it("stop(): BYE answered first, then the unregister, then the socket closes; an unanswered BYE holds it at most DRAIN_MS", async () => {
    const r = await answeredOnFakeTime();
    await r.settle();
    r.ngn.ignoreBye = true;
    let stopped = false;
    r.pbx.close(); // the gateway's first step: BYE both legs
    const stop = r.trunk.stop().then(() => (stopped = true));
    await r.settle(DRAIN_MS - 500, 250);
    expect(r.ngn.methods("BYE").length).toBeGreaterThan(0); // sent, and retransmitted (Timer E)
    expect(stopped).toBe(false);
    expect(r.ngn.methods("REGISTER")).toHaveLength(1); // no unregister yet
    await r.settle(750, 250);
    await stop;
    const unregister = r.ngn.methods("REGISTER")[1]!;
    expect(getHeader(unregister.req, "expires")).toBe("0");
    expect(r.trunk.status.state).toBe("disabled");
  });

  it("over a real socket: the BYE to the NGN leaves before the socket closes, even with nothing registered to wait for", async () => {
    const r = (rig = await build({ udpNgn: "127.0.0.2" }));
    r.ngn.registerStatus = 403; // nothing to unregister: stop() has no REGISTER to wait on
    await r.trunk.configure({ ...LINE, localAddress: "127.0.0.1", server: "127.0.0.2" });
    await r.until(() => r.trunk.status.state === "failed");
    await r.phone.register();
    const inbound = callIn(r, await wanOf(r));
    expect(await inbound).toBe(200);
    await r.until(() => r.pbx.calls.size === 1 && [...r.pbx.calls][0]!.status === "answered");
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
    await r.settle();
    r.ngn.registerStatus = 503;
    await r.settle(1_621_000, 60_000);
    expect(r.ngn.methods("REGISTER")).toHaveLength(2);
    expect(r.trunk.status).toMatchObject({ state: "registered", last_error: "503 Service Unavailable" });
    expect(r.trunk.outboundTarget("0399990000", "801")).not.toHaveProperty("status");
  });

  it("two phones dialling at once with one channel: one INVITE reaches the NGN, the other phone hears 486", async () => {
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const r = (rig = await build({ media: { create: (id) => gate.then(() => passThroughMedia.create(id)) } }));
    r.ngn.answer = "ring";
    await r.registerLine();
    await r.phone.register();
    await r.phone2.register();
    const calls = [r.phone.call("0399990000"), r.phone2.call("0399990001")];
    const first = await Promise.race(calls);
    expect(first.res.status).toBe(486);
    release();
    await r.until(() => r.ngn.methods("INVITE").length === 1);
    await r.net.flush();
    expect(r.ngn.methods("INVITE")).toHaveLength(1);
  });
});
