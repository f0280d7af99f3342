import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { DhcpClient, type DhcpClientEvents } from "./client.js";
import type { InterfaceConfigurator } from "./interface-setup.js";
import type { Lease } from "./lease.js";
import { decodeDhcpMessage, DhcpMessageType, messageType, type DhcpMessage } from "./packet.js";
import { bootReply, FakeTransport, NGN_ACK_OPTIONS_HEX } from "../../test/support/dhcp/fixtures.js";

const T0 = 1_700_000_000_000;

class FakeConfigurator implements InterfaceConfigurator {
  readonly calls: string[] = [];
  async up(iface: string) {
    this.calls.push(`up ${iface}`);
  }
  async apply(l: Lease, prev: Lease | null) {
    this.calls.push(`apply ${l.address}${prev ? ` prev ${prev.address}` : ""}`);
  }
  async remove(l: Lease) {
    this.calls.push(`remove ${l.address}`);
  }
}

async function setup(opts: { stateDir?: string; random?: () => number } = {}) {
  const clock = new ManualClock(T0);
  const transport = new FakeTransport();
  const configurator = new FakeConfigurator();
  const client = new DhcpClient({ interface: "wan0", mac: "02:00:00:00:00:01", log: silentLogger(), clock, transport, configurator, random: opts.random ?? (() => 0.5), initDelayMs: 0, stateDir: opts.stateDir });
  const events: string[] = [];
  for (const e of ["bound", "renewed", "changed", "expired", "released"] as (keyof DhcpClientEvents)[])
    client.on(e, ((l: Lease) => events.push(`${e} ${l.address}`)) as never);
  await client.start();
  clock.advance(0);
  const last = (): DhcpMessage => decodeDhcpMessage(transport.sent.at(-1)!.payload).message!;
  const reply = async (optionsHex: string, o: { yiaddr?: string; xid?: number; mac?: string } = {}) => {
    transport.deliver(bootReply(optionsHex, { xid: o.xid ?? last().xid, yiaddr: o.yiaddr, mac: o.mac }));
    await client.whenIdle();
  };
  const offer = "35 01 02 36 04 c6 12 01 01 33 04 00 00 38 40 ff";
  const ack = NGN_ACK_OPTIONS_HEX;
  const bind = async () => {
    await reply(offer);
    await reply(ack);
  };
  return { clock, transport, configurator, client, events, last, reply, offer, ack, bind };
}

describe("DhcpClient state machine (RFC 2131 §4.4)", () => {
  it("INIT → SELECTING → REQUESTING → BOUND with what the home gateway sends", async () => {
    const t = await setup();
    expect(t.client.state).toBe("selecting");
    const d = t.last();
    expect(messageType(d)).toBe(DhcpMessageType.discover);
    expect(t.transport.sent[0]).toMatchObject({ src: "0.0.0.0", dst: "255.255.255.255" });
    expect(d.flags & 0x8000).toBe(0x8000);
    expect([...d.options.get(55)!]).toEqual(expect.arrayContaining([1, 3, 120, 121, 125]));
    expect(d.options.get(124)!.toString("hex")).toBe("000000d20706020000000001");
    expect(d.options.get(61)!.toString("hex")).toBe("01020000000001");
    expect(d.options.has(60)).toBe(false);

    await t.reply(t.offer);
    expect(t.client.state).toBe("requesting");
    const r = t.last();
    expect(messageType(r)).toBe(DhcpMessageType.request);
    expect(r.xid).toBe(d.xid);
    expect(r.options.get(50)!.toString("hex")).toBe("c6120102");
    expect(r.options.get(54)!.toString("hex")).toBe("c6120101");
    expect(r.ciaddr).toBe("0.0.0.0");

    await t.reply(t.ack);
    expect(t.client.state).toBe("bound");
    expect(t.events).toEqual(["bound 198.18.1.2"]);
    expect(t.configurator.calls).toEqual(["up wan0", "apply 198.18.1.2"]);
    expect(t.transport.localAddress).toBe("198.18.1.2");
    expect(t.client.lease).toMatchObject({ address: "198.18.1.2", acquired_at: T0 });
  });

  it("retransmits DISCOVER with exponential backoff 4, 8, 16, 32, 64, 64 s (§4.1)", async () => {
    const t = await setup();
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const n = t.transport.sent.length;
      t.clock.advance(1000);
      if (t.transport.sent.length > n) times.push((t.clock.now() - T0) / 1000);
    }
    expect(times).toEqual([4, 12, 28, 60, 124, 188]);
  });

  it("randomises the backoff by ±1 s", async () => {
    const t = await setup({ random: () => 0 });
    t.clock.advance(2999);
    expect(t.transport.sent).toHaveLength(1);
    t.clock.advance(1);
    expect(t.transport.sent).toHaveLength(2);
  });

  it("ignores replies for another xid or another MAC", async () => {
    const t = await setup();
    await t.reply(t.offer, { xid: 1 });
    await t.reply(t.offer, { mac: "020000000002" });
    expect(t.client.state).toBe("selecting");
  });

  it("renews at T1 by unicast, rebinds at T2 by broadcast, and reports renewed/changed", async () => {
    const t = await setup();
    await t.bind();
    const sent = t.transport.sent.length;
    t.clock.advance(7200_000 - 1);
    expect(t.transport.sent).toHaveLength(sent);
    t.clock.advance(1);
    expect(t.client.state).toBe("renewing");
    const renew = t.last();
    expect(t.transport.sent.at(-1)).toMatchObject({ src: "198.18.1.2", dst: "198.18.1.1" });
    expect(renew.ciaddr).toBe("198.18.1.2");
    expect(renew.options.has(50) || renew.options.has(54)).toBe(false);
    expect(renew.flags).toBe(0);
    // §4.4.5: no answer → retransmit after half the time left to T2 (1800 s)
    t.clock.advance(1800_000);
    expect(t.last().xid).toBe(renew.xid);
    t.clock.advance(1800_000);
    expect(t.client.state).toBe("rebinding");
    expect(t.transport.sent.at(-1)).toMatchObject({ src: "198.18.1.2", dst: "255.255.255.255" });
    expect(t.last().ciaddr).toBe("198.18.1.2");
    await t.reply(t.ack);
    expect(t.client.state).toBe("bound");
    expect(t.events).toEqual(["bound 198.18.1.2", "renewed 198.18.1.2"]);
    // the new lease counts from the rebinding REQUEST; its T1 comes 7200 s later
    t.clock.advance(7200_000);
    expect(t.client.state).toBe("renewing");
    await t.reply(t.ack.replace("780501c6120205", "780501c6120206"));
    expect(t.events.at(-1)).toBe("changed 198.18.1.2");
    expect(t.client.lease!.sip_servers).toEqual(["198.18.2.6"]);
  });

  it("expires: removes the address, emits expired and starts over in INIT", async () => {
    const t = await setup();
    await t.bind();
    t.clock.advance(14400_000 - 1);
    expect(t.client.state).toBe("rebinding");
    t.clock.advance(1);
    await t.client.whenIdle();
    expect(t.events).toEqual(["bound 198.18.1.2", "expired 198.18.1.2"]);
    expect(t.configurator.calls).toEqual(["up wan0", "apply 198.18.1.2", "remove 198.18.1.2"]);
    expect(t.transport.localAddress).toBeNull();
    t.clock.advance(1000);
    expect(t.client.state).toBe("selecting");
    expect(messageType(t.last())).toBe(DhcpMessageType.discover);
  });

  it("handles NAK in REQUESTING (back to INIT) and in RENEWING (lease lost)", async () => {
    const t = await setup();
    await t.reply(t.offer);
    await t.reply("35 01 06 36 04 c6 12 01 01 ff");
    expect(t.client.state).toBe("init");
    expect(t.events).toEqual([]);
    t.clock.advance(1000);
    expect(t.client.state).toBe("selecting");
    await t.bind();
    t.clock.advance(7200_000);
    await t.reply("35 01 06 36 04 c6 12 01 01 38 03 6e 6f 21 ff");
    expect(t.events).toEqual(["bound 198.18.1.2", "expired 198.18.1.2"]);
    expect(t.configurator.calls.at(-1)).toBe("remove 198.18.1.2");
    expect(t.client.lease).toBeNull();
  });

  it("gives up REQUESTING after 4 unanswered REQUESTs", async () => {
    const t = await setup();
    await t.reply(t.offer);
    t.clock.advance(4000 + 8000 + 16000 + 32000 - 1);
    expect(t.client.state).toBe("requesting");
    const n = t.transport.sent.length;
    t.clock.advance(1);
    // back through INIT (no delay configured) to a fresh DISCOVER
    expect(t.client.state).toBe("selecting");
    expect(t.transport.sent).toHaveLength(n + 1);
    expect(messageType(t.last())).toBe(DhcpMessageType.discover);
  });

  it("saves the lease and reuses it after a restart (INIT-REBOOT, §4.4.2)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hgw-dhcp-"));
    const a = await setup({ stateDir: dir });
    await a.bind();
    await a.client.stop({ release: false });
    expect(a.transport.closed).toBe(true);
    expect(JSON.parse(await readFile(join(dir, "dhcp-wan0.json"), "utf8")).address).toBe("198.18.1.2");

    const b = await setup({ stateDir: dir });
    expect(b.client.state).toBe("rebooting");
    const r = b.last();
    expect(messageType(r)).toBe(DhcpMessageType.request);
    expect(r.options.get(50)!.toString("hex")).toBe("c6120102");
    expect(r.options.has(54)).toBe(false);
    expect(r.ciaddr).toBe("0.0.0.0");
    expect(b.transport.sent.map((s) => messageType(decodeDhcpMessage(s.payload).message!))).toEqual([DhcpMessageType.request]);
    await b.reply(b.ack);
    expect(b.events).toEqual(["bound 198.18.1.2"]);
    expect(b.configurator.calls).toEqual(["up wan0", "apply 198.18.1.2 prev 198.18.1.2"]);
  });

  it("INIT-REBOOT refused with NAK removes the saved address and discovers", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hgw-dhcp-"));
    const a = await setup({ stateDir: dir });
    await a.bind();
    await a.client.stop({ release: false });
    const b = await setup({ stateDir: dir });
    await b.reply("35 01 06 36 04 c6 12 01 01 ff");
    expect(b.events).toEqual(["expired 198.18.1.2"]);
    b.clock.advance(1000);
    expect(messageType(b.last())).toBe(DhcpMessageType.discover);
  });

  it("ignores an expired or corrupt saved lease", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hgw-dhcp-"));
    await writeFile(join(dir, "dhcp-wan0.json"), "{not json");
    expect((await setup({ stateDir: dir })).client.state).toBe("selecting");
    const a = await setup({ stateDir: dir });
    await a.bind();
    await a.client.stop({ release: false });
    const saved = JSON.parse(await readFile(join(dir, "dhcp-wan0.json"), "utf8"));
    await writeFile(join(dir, "dhcp-wan0.json"), JSON.stringify({ ...saved, acquired_at: T0 - 20_000_000 }));
    const b = await setup({ stateDir: dir });
    expect(b.client.state).toBe("selecting");
    await b.client.whenIdle();
    expect(b.configurator.calls).toEqual(["up wan0", "remove 198.18.1.2"]);
  });

  it("releases on stop (§4.4.6): unicast RELEASE, address removed, store cleared", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hgw-dhcp-"));
    const t = await setup({ stateDir: dir });
    await t.bind();
    await t.client.stop({ release: true });
    const rel = t.last();
    expect(messageType(rel)).toBe(DhcpMessageType.release);
    expect(t.transport.sent.at(-1)).toMatchObject({ src: "198.18.1.2", dst: "198.18.1.1" });
    expect(rel.ciaddr).toBe("198.18.1.2");
    expect(rel.options.get(54)!.toString("hex")).toBe("c6120101");
    expect(t.events.at(-1)).toBe("released 198.18.1.2");
    expect(t.configurator.calls.at(-1)).toBe("remove 198.18.1.2");
    await expect(readFile(join(dir, "dhcp-wan0.json"))).rejects.toThrow();
  });

  it("falls back to broadcast when the unicast RELEASE has no route", async () => {
    const t = await setup();
    await t.bind();
    t.transport.failUnicast = true;
    await t.client.stop({ release: true });
    expect(t.transport.sent.at(-1)).toMatchObject({ src: "198.18.1.2", dst: "255.255.255.255" });
  });

  it("sends configured option 55, option 60 and no 124 when the enterprise is null-like", async () => {
    const transport = new FakeTransport();
    const clock = new ManualClock(T0);
    const c = new DhcpClient({ interface: "wan0", mac: "02:00:00:00:00:09", requestOptions: [1, 3, 6], vendorClass: "PR-400NE", enterprise: 4491, log: silentLogger(), clock, transport, configurator: new FakeConfigurator(), initDelayMs: 0 });
    await c.start();
    clock.advance(0);
    const d = decodeDhcpMessage(transport.sent[0]!.payload).message!;
    expect([...d.options.get(55)!]).toEqual([1, 3, 6]);
    expect(d.options.get(60)!.toString()).toBe("PR-400NE");
    expect(d.options.get(124)!.readUInt32BE(0)).toBe(4491);
    expect(d.chaddr.subarray(0, 6).toString("hex")).toBe("020000000009");
  });
});
