/**
 * The relay between real hosts: caller ── relay ── callee in three namespaces, the relay
 * process (`dist/media/relay-main.js`, the `hikari-gw relay` benchmark mode) in the middle.
 *   userspace (`--offload none`): RTP flows both ways through the relay's ports, each phone
 *     sees the port it sends to as the source, a third address's packets after latching are
 *     not forwarded.
 *   offload by default: `hikari-gw relay` with no --offload (auto, as `media.offload`): once
 *     latched, nftables forwards in the kernel: the phones keep hearing each other while the
 *     relay process's counters stop; the rules go away with the relay.
 *   auto, trunk and extension calls: a trunk call (relay on every address, LAN phone ↔ the
 *     NGN on the WAN side) and an extension call (relay on the LAN address, both phones on the
 *     LAN: the kernel hairpins) both go to the kernel; the process's per-session counters
 *     stand still while the kernel's per-flow counters climb.
 *   forwarding guard: ip_forward=1 (which the kernel path needs) makes the gateway a router
 *     between the LAN and the line's side; with the WAN guard on wan0 (as the gateway installs
 *     it per lease) a LAN host's ping and UDP to a WAN-side host, and the WAN side's to the LAN,
 *     are dropped and counted, while a trunk call's offloaded media still flows in the kernel.
 *     Without the guard the same probes get through (the hole is real in this lab).
 *   offload timeout: one phone stops while the other keeps sending; the kernel's per-flow
 *     counters (polled with one nft run) show the silent side, and its timeout fires.
 *   offload move: the callee resumes from another port (re-INVITE) mid-call: the session leaves
 *     the kernel, userspace relays to the new port, and the kernel takes it again with new
 *     rules in a new conntrack zone (the old DNAT'ed entry must not be reused).
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildDist } from "./build.js";
import { labReady } from "./env.js";
import { Lab, waitForLine } from "./netns.js";

const ready = labReady("media-relay", ["node", "nft", "ping"]);
const RELAY_MAIN = join(process.cwd(), "dist/media/relay-main.js");

/** A phone: sends `count` RTP-ish packets every 20 ms from `bind` to `to`, counts what comes back. */
const PHONE = `
const dgram = require("node:dgram");
const [bindAddr, bindPort, toAddr, toPort, count, startDelay] = process.argv.slice(1);
const s = dgram.createSocket("udp4");
const got = []; const sources = new Set();
s.on("message", (m, r) => { got.push(m.readUInt16BE(2)); sources.add(r.address + ":" + r.port); });
s.bind(Number(bindPort), bindAddr, () => {
  let i = 0;
  setTimeout(() => {
    const t = setInterval(() => {
      const b = Buffer.alloc(172); b[0] = 0x80; b.writeUInt16BE(i, 2); b.writeUInt32BE(i * 160, 4);
      s.send(b, Number(toPort), toAddr);
      if (++i >= Number(count)) { clearInterval(t); setTimeout(() => { console.log(JSON.stringify({ received: got.length, sources: [...sources] })); s.close(); }, 500); }
    }, 20);
  }, Number(startDelay));
});
`;

/**
 * A relay with nftables offload and a short media timeout, driven from dist/: prints its ports,
 * then one JSON line per timeout event (which side, offloaded or not, kernel counts).
 */
const TIMEOUT_RELAY = `
const [relayJs, logJs, timeoutMs] = process.argv.slice(1);
const { MediaRelay } = await import(relayJs);
const { createRootLogger } = await import(logJs);
const log = createRootLogger({ level: "info", destination: process.stderr });
const relay = await MediaRelay.create({ bindAddress: "0.0.0.0", portMin: 50100, portMax: 50199, log, offload: "nftables", mediaTimeoutMs: Number(timeoutMs) });
const s = await relay.allocate("lab-timeout");
const t0 = Date.now();
s.on("timeout", (_s, side) => console.log(JSON.stringify({ timeout: side, offloaded: s.offloaded, atMs: Date.now() - t0, kernelA: s.kernelA, kernelB: s.kernelB })));
console.log(JSON.stringify({ a: s.a.rtpPort, b: s.b.rtpPort }));
process.on("SIGTERM", () => void relay.close().then(() => process.exit(0)));
`;

/**
 * A relay with `offload: auto` (the config's default) on `bind`, one session: prints its ports
 * and the offload chosen, then every 500 ms what the process itself has counted per side.
 */
const COUNTING_RELAY = `
const [relayJs, logJs, bind, portMin] = process.argv.slice(1);
const { MediaRelay } = await import(relayJs);
const { createRootLogger } = await import(logJs);
const log = createRootLogger({ level: "info", destination: process.stderr });
const relay = await MediaRelay.create({ bindAddress: bind, portMin: Number(portMin), portMax: Number(portMin) + 99, log, offload: "auto", mediaTimeoutMs: 20000 });
const s = await relay.allocate("lab-count");
console.log(JSON.stringify({ a: s.a.rtpPort, b: s.b.rtpPort, offload: relay.offloadName }));
setInterval(() => { const st = s.stats(); console.log(JSON.stringify({ offloaded: s.offloaded, procA: st.a.rx.packets, procB: st.b.rx.packets })); }, 500);
process.on("SIGTERM", () => void relay.close().then(() => process.exit(0)));
`;

/**
 * A relay with nftables offload whose session is told both phones' SDP addresses (so it
 * latches and offloads at the first packets), then at `moveAtMs` gets the callee's re-INVITE
 * naming port 6100: prints its ports, then a state line before and after the move.
 */
const MOVE_RELAY = `
const [relayJs, logJs, moveAtMs] = process.argv.slice(1);
const { MediaRelay } = await import(relayJs);
const { createRootLogger } = await import(logJs);
const log = createRootLogger({ level: "info", destination: process.stderr });
const relay = await MediaRelay.create({ bindAddress: "0.0.0.0", portMin: 50200, portMax: 50299, log, offload: "nftables", mediaTimeoutMs: 20000 });
const s = await relay.allocate("lab-move");
s.setExpectedPeer("a", { address: "198.18.40.2", rtpPort: 4000 });
s.setExpectedPeer("b", { address: "198.18.41.2", rtpPort: 6000 });
const state = (ev) => console.log(JSON.stringify({ ev, offloaded: s.offloaded, b: s.stats().b.peer }));
console.log(JSON.stringify({ a: s.a.rtpPort, b: s.b.rtpPort }));
setTimeout(() => { state("before"); s.setExpectedPeer("b", { address: "198.18.41.2", rtpPort: 6100 }); state("moved"); }, Number(moveAtMs));
process.on("SIGTERM", () => { state("end"); void relay.close().then(() => process.exit(0)); });
`;

/** The WAN guard for a lease 198.18.41.1 on wan0, installed the gateway's way (one apply per lease). */
const GUARD = `
const [guardJs, logJs] = process.argv.slice(1);
const { WanGuard } = await import(guardJs);
const { createRootLogger } = await import(logJs);
const log = createRootLogger({ level: "warn", destination: process.stderr });
const err = await new WanGuard({ log }).apply({ wanInterface: "wan0", leaseAddress: "198.18.41.1", trunkPort: 5060, lanPort: 5060, rtpPorts: "50300-50399" });
if (err) { console.error(err.message); process.exit(1); }
`;

/** Counts UDP datagrams to `addr`:`port` for `ms`, printing "ready" once bound and then {"got":n}. */
const UDP_SINK = `
const [addr, port, ms] = process.argv.slice(1);
const s = require("node:dgram").createSocket("udp4");
let got = 0;
s.on("message", () => got++);
s.bind(Number(port), addr, () => { console.log("ready"); setTimeout(() => { console.log(JSON.stringify({ got })); s.close(); }, Number(ms)); });
`;

/** Sends `count` datagrams to `addr`:`port`, 20 ms apart, then exits. */
const UDP_SEND = `
const [addr, port, count] = process.argv.slice(1);
const s = require("node:dgram").createSocket("udp4");
let i = 0;
const t = setInterval(() => { s.send(Buffer.from("probe " + i), Number(port), addr); if (++i >= Number(count)) { clearInterval(t); setTimeout(() => s.close(), 100); } }, 20);
`;


interface PhoneResult {
  received: number;
  sources: string[];
}

async function phoneResult(p: ChildProcess): Promise<PhoneResult> {
  return JSON.parse(await waitForLine(p, /^\{/, 30_000)) as PhoneResult;
}

/** Final per-session stats the relay logs on SIGTERM (stderr, pino JSON). */
async function relayFinalStats(relay: ChildProcess): Promise<{ a: { rx: { packets: number; dropped: number } }; b: { rx: { packets: number } }; offloaded: boolean }> {
  let err = "";
  relay.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => relay.once("exit", () => r()));
  relay.kill("SIGTERM");
  await exited;
  const line = err.split("\n").find((l) => l.includes("media session released"));
  if (!line) throw new Error(`no final stats in relay output:\n${err.slice(-2000)}`);
  return (JSON.parse(line) as { stats: never }).stats;
}

describe.skipIf(!ready)("media relay between namespaces", () => {
  let lab: Lab;

  beforeEach(() => {
    buildDist();
    lab = new Lab("hgwmed");
    lab.addHost("caller");
    lab.addHost("relay");
    lab.addHost("callee");
    lab.link({ host: "caller", ifname: "eth0", addr: "198.18.40.2/24" }, { host: "relay", ifname: "lan0", addr: "198.18.40.1/24" });
    lab.link({ host: "callee", ifname: "eth0", addr: "198.18.41.2/24" }, { host: "relay", ifname: "wan0", addr: "198.18.41.1/24" });
    lab.exec("caller", "ip", ["addr", "add", "198.18.40.3/24", "dev", "eth0"]); // the third party
    lab.exec("caller", "ip", ["addr", "add", "198.18.40.4/24", "dev", "eth0"]); // a second LAN phone
    lab.exec("relay", "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
  });

  afterEach(async () => {
    await lab.destroy();
  });

  /** `hikari-gw relay`; `offload` undefined leaves its default (auto). */
  async function startRelay(offload?: "none"): Promise<{ relay: ChildProcess; a: number; b: number }> {
    const args = [RELAY_MAIN, "--sessions", "1", "--listen", "0.0.0.0", "--ports", "50000-50099"];
    if (offload) args.push("--offload", offload);
    const relay = lab.spawn("relay", "node", args, { env: { ...process.env, LOG_LEVEL: "info" } });
    const line = await waitForLine(relay, /^\{"sessions"/, 20_000);
    const { a, b } = (JSON.parse(line) as { sessions: { a: number; b: number }[] }).sessions[0]!;
    return { relay, a, b };
  }

  it("userspace: RTP both ways through the relay's ports; a third address is not forwarded", async () => {
    const { relay, a, b } = await startRelay("none");
    const caller = lab.spawn("caller", "node", ["-e", PHONE, "198.18.40.2", "4000", "198.18.40.1", String(a), "150", "0"]);
    const callee = lab.spawn("callee", "node", ["-e", PHONE, "198.18.41.2", "6000", "198.18.41.1", String(b), "150", "0"]);
    // After latching: 50 packets from the caller host's other address to the caller side's port.
    const intruder = lab.spawn("caller", "node", ["-e", PHONE, "198.18.40.3", "4000", "198.18.40.1", String(a), "50", "1000"]);
    const [rc, re] = await Promise.all([phoneResult(caller), phoneResult(callee), phoneResult(intruder)]);
    // Symmetric RTP: each phone hears the gateway port it sends to.
    expect(rc.sources).toEqual([`198.18.40.1:${a}`]);
    expect(re.sources).toEqual([`198.18.41.1:${b}`]);
    // Nearly all 150 each way (the first packets may precede the other side's latch).
    expect(rc.received).toBeGreaterThanOrEqual(140);
    expect(re.received).toBeGreaterThanOrEqual(140);
    expect(re.received).toBeLessThanOrEqual(150); // none of the intruder's 50 got through
    const st = await relayFinalStats(relay);
    expect(st.a.rx.packets).toBeGreaterThanOrEqual(140);
    expect(st.a.rx.packets).toBeLessThanOrEqual(150);
    expect(st.offloaded).toBe(false);
  });

  it("offload by default: after latching the kernel forwards, the relay's counters stop, rules go at exit", async () => {
    const { relay, a, b } = await startRelay();
    // 400 packets = 8 s each way; latching turns final after 3 s, then the rules go in.
    const caller = lab.spawn("caller", "node", ["-e", PHONE, "198.18.40.2", "4000", "198.18.40.1", String(a), "400", "0"]);
    const callee = lab.spawn("callee", "node", ["-e", PHONE, "198.18.41.2", "6000", "198.18.41.1", String(b), "400", "0"]);
    await new Promise((r) => setTimeout(r, 6000));
    const table = lab.exec("relay", "nft", ["list", "table", "ip", "hikari_gw"]);
    expect(table).toContain(`chain f${a}`);
    expect(table).toContain("dnat to 198.18.41.2:6000");
    const [rc, re] = await Promise.all([phoneResult(caller), phoneResult(callee)]);
    // Nearly all: the very first packets may come before the other side has latched.
    expect(rc.received).toBeGreaterThanOrEqual(350);
    expect(re.received).toBeGreaterThanOrEqual(350);
    expect(rc.sources).toEqual([`198.18.40.1:${a}`]);
    expect(re.sources).toEqual([`198.18.41.1:${b}`]);
    const st = await relayFinalStats(relay);
    expect(st.offloaded).toBe(true);
    // Userspace saw only the first ~3–4 s (≈ 150–200 packets), not the 400 sent.
    expect(st.a.rx.packets).toBeGreaterThan(50);
    expect(st.a.rx.packets).toBeLessThan(300);
    let after = "";
    try {
      after = lab.exec("relay", "nft", ["list", "table", "ip", "hikari_gw"]);
    } catch {
      after = "gone";
    }
    expect(after).toBe("gone");
  });

  /** Packets the kernel counted on the flow into `port` (its named counter), 0 while absent. */
  function kernelCount(port: number): number {
    try {
      const m = /packets (\d+)/.exec(lab.exec("relay", "nft", ["list", "counter", "ip", "hikari_gw", `c${port}`]));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  /**
   * One call through a COUNTING_RELAY on `bind`: phone A from 198.18.40.2:4000, phone B from
   * `bAddr`:6000 on host `bHost`, 450 packets (9 s) each way. Once offloaded, two looks 1.5 s
   * apart at the process's counters and the kernel's.
   */
  async function offloadedByDefault(bind: string, bHost: string, bAddr: string, bTo: string) {
    const relay = lab.spawn("relay", "node", ["--input-type=module", "-e", COUNTING_RELAY, join(process.cwd(), "dist/media/relay.js"), join(process.cwd(), "dist/log.js"), bind, "50300"]);
    const head = JSON.parse(await waitForLine(relay, /^\{"a"/, 20_000)) as { a: number; b: number; offload: string };
    expect(head.offload).toBe("nftables");
    const caller = lab.spawn("caller", "node", ["-e", PHONE, "198.18.40.2", "4000", bind === "0.0.0.0" ? "198.18.40.1" : bind, String(head.a), "450", "0"]);
    const callee = lab.spawn(bHost, "node", ["-e", PHONE, bAddr, "6000", bTo, String(head.b), "450", "0"]);
    const results = Promise.all([phoneResult(caller), phoneResult(callee)]);
    // Latches turn final 3 s after the first packet (next 1 s tick), then the rules go in.
    await new Promise((r) => setTimeout(r, 5500));
    const look = async () => {
      const proc = JSON.parse(await waitForLine(relay, /^\{"offloaded"/, 2000)) as { offloaded: boolean; procA: number; procB: number };
      return { ...proc, kernelA: kernelCount(head.a), kernelB: kernelCount(head.b) };
    };
    const first = await look();
    await new Promise((r) => setTimeout(r, 1500));
    const second = await look();
    const [ra, rb] = await results;
    relay.kill("SIGTERM");
    return { head, first, second, ra, rb };
  }

  function expectKernelOnly(r: Awaited<ReturnType<typeof offloadedByDefault>>, explain: string): void {
    expect(r.first.offloaded, explain).toBe(true);
    expect(r.second.offloaded, explain).toBe(true);
    // The process saw the first ~3-4 s (the latch window), then nothing more...
    expect(r.first.procA, explain).toBeGreaterThan(50);
    expect(r.second.procA, explain).toBe(r.first.procA);
    expect(r.second.procB, explain).toBe(r.first.procB);
    // ...while the kernel counted ~75 packets a side in those 1.5 s.
    expect(r.second.kernelA - r.first.kernelA, explain).toBeGreaterThan(40);
    expect(r.second.kernelB - r.first.kernelB, explain).toBeGreaterThan(40);
    // And the phones heard (nearly) everything, from the gateway's ports.
    expect(r.ra.received, explain).toBeGreaterThanOrEqual(400);
    expect(r.rb.received, explain).toBeGreaterThanOrEqual(400);
  }

  it("auto, trunk call: LAN phone ↔ NGN on the WAN side, relay on every address: the kernel forwards, the process's counters stand still", async () => {
    const r = await offloadedByDefault("0.0.0.0", "callee", "198.18.41.2", "198.18.41.1");
    expectKernelOnly(r, JSON.stringify(r));
    expect(r.ra.sources).toEqual([`198.18.40.1:${r.head.a}`]);
    expect(r.rb.sources).toEqual([`198.18.41.1:${r.head.b}`]);
  });

  it("auto, extension call: both phones on the LAN, relay on the LAN address: the kernel hairpins, the process's counters stand still", async () => {
    const r = await offloadedByDefault("198.18.40.1", "caller", "198.18.40.4", "198.18.40.1");
    expectKernelOnly(r, JSON.stringify(r));
    expect(r.ra.sources).toEqual([`198.18.40.1:${r.head.a}`]);
    expect(r.rb.sources).toEqual([`198.18.40.1:${r.head.b}`]);
  });

  /** Exit code of `cmd` in `host`, without blocking the event loop (the relay's lines keep flowing). */
  function exitCode(host: string, cmd: string, args: string[]): Promise<number | null> {
    const p = lab.spawn(host, cmd, args);
    return new Promise((r) => p.once("exit", (code) => r(code)));
  }

  /** 10 UDP datagrams from `fromHost` to `toAddr`:7000 on `toHost`: how many arrived. */
  async function udpThrough(fromHost: string, toHost: string, toAddr: string): Promise<number> {
    const sink = lab.spawn(toHost, "node", ["-e", UDP_SINK, toAddr, "7000", "1500"]);
    const result = waitForLine(sink, /^\{"got"/, 10_000);
    await waitForLine(sink, /^ready$/, 5000);
    await exitCode(fromHost, "node", ["-e", UDP_SEND, toAddr, "7000", "10"]);
    return (JSON.parse(await result) as { got: number }).got;
  }

  it("forwarding guard: with ip_forward=1 and the WAN guard, the LAN and the line's side cannot reach each other through the gateway, while a trunk call's media is forwarded in the kernel", async () => {
    lab.exec("caller", "ip", ["route", "add", "198.18.41.0/24", "via", "198.18.40.1"]);
    lab.exec("callee", "ip", ["route", "add", "198.18.40.0/24", "via", "198.18.41.1"]);
    // Control, no guard: the gateway routes between LAN and line (what the guard must close).
    expect(await exitCode("caller", "ping", ["-c", "1", "-W", "2", "198.18.41.2"])).toBe(0);
    expect(await udpThrough("caller", "callee", "198.18.41.2")).toBeGreaterThan(0);
    expect(await udpThrough("callee", "caller", "198.18.40.2")).toBeGreaterThan(0);

    lab.exec("relay", "node", ["--input-type=module", "-e", GUARD, join(process.cwd(), "dist/trunk/wan-guard.js"), join(process.cwd(), "dist/log.js")]);
    expect(lab.exec("relay", "nft", ["list", "chain", "ip", "hikari_gw_guard", "forward"])).toContain("ct status dnat");
    // The probes run while the call below is offloaded (its rules go in ~4 s after the first packets).
    const probes = (async () => {
      await new Promise((r) => setTimeout(r, 6000));
      const ping = await exitCode("caller", "ping", ["-c", "3", "-i", "0.3", "-W", "1", "198.18.41.2"]);
      const lanToWan = await udpThrough("caller", "callee", "198.18.41.2");
      const wanToLan = await udpThrough("callee", "caller", "198.18.40.2");
      return { ping, lanToWan, wanToLan };
    })();
    const r = await offloadedByDefault("0.0.0.0", "callee", "198.18.41.2", "198.18.41.1");
    const p = await probes;
    const dropped = Number(/packets (\d+)/.exec(lab.exec("relay", "nft", ["list", "counter", "ip", "hikari_gw_guard", "forward_dropped"]))?.[1]);
    const explain = JSON.stringify({ r, p, dropped });
    // The call: offloaded, the kernel forwarding both ways across wan0, the phones hearing it all.
    expectKernelOnly(r, explain);
    expect(r.rb.sources, explain).toEqual([`198.18.41.1:${r.head.b}`]);
    // Everything else across wan0: nothing through, and the guard's counter says it refused
    // them (3 pings + 2 × 10 datagrams sent; a margin for one lost before reaching the gateway).
    expect(p.ping, explain).not.toBe(0);
    expect(p.lanToWan, explain).toBe(0);
    expect(p.wanToLan, explain).toBe(0);
    expect(dropped, explain).toBeGreaterThanOrEqual(20);
  }, 60_000);

  it("auto falls back to userspace, with one line saying why, where the host does not route", async () => {
    lab.exec("relay", "sysctl", ["-qw", "net.ipv4.ip_forward=0"]);
    const relay = lab.spawn("relay", "node", ["--input-type=module", "-e", COUNTING_RELAY, join(process.cwd(), "dist/media/relay.js"), join(process.cwd(), "dist/log.js"), "0.0.0.0", "50300"]);
    let err = "";
    relay.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const head = JSON.parse(await waitForLine(relay, /^\{"a"/, 20_000)) as { offload: string };
    const exited = new Promise((r) => relay.once("exit", r));
    relay.kill("SIGTERM");
    await exited;
    expect(head.offload).toBe("none");
    const why = err.split("\n").filter((l) => l.includes("media offload auto"));
    expect(why, err).toHaveLength(1);
    expect(why[0]).toContain("net.ipv4.ip_forward is 0");
    expect(() => lab.exec("relay", "nft", ["list", "table", "ip", "hikari_gw"])).toThrow();
  });

  it("offload timeout: the side that stops sending times out from the kernel's counters", async () => {
    const relay = lab.spawn("relay", "node", ["--input-type=module", "-e", TIMEOUT_RELAY, join(process.cwd(), "dist/media/relay.js"), join(process.cwd(), "dist/log.js"), "5000"]);
    const { a, b } = JSON.parse(await waitForLine(relay, /^\{"a"/, 20_000)) as { a: number; b: number };
    const t0 = Date.now();
    // The caller vanishes after 6 s (300 packets); the callee (the NGN) keeps sending for 20 s.
    lab.spawn("caller", "node", ["-e", PHONE, "198.18.40.2", "4000", "198.18.40.1", String(a), "300", "0"]);
    lab.spawn("callee", "node", ["-e", PHONE, "198.18.41.2", "6000", "198.18.41.1", String(b), "1000", "0"]);
    await new Promise((r) => setTimeout(r, 5000));
    const table = lab.exec("relay", "nft", ["list", "table", "ip", "hikari_gw"]);
    expect(table).toContain(`counter c${a}`);
    expect(table).toContain(`${a} . 198.18.40.2 . 4000 : "c${a}"`);
    const ev = JSON.parse(await waitForLine(relay, /^\{"timeout"/, 25_000)) as { timeout: string; offloaded: boolean; atMs: number; kernelA: number; kernelB: number };
    const elapsed = Date.now() - t0;
    expect(ev.timeout).toBe("a");
    expect(ev.offloaded).toBe(true);
    // Offloaded at ~3 s: the kernel counted the caller's last ~150 packets, and the callee's.
    expect(ev.kernelA).toBeGreaterThan(50);
    expect(ev.kernelA).toBeLessThanOrEqual(300);
    expect(ev.kernelB).toBeGreaterThan(ev.kernelA);
    // Silent from ~6 s; 5 s timeout + up to one 1.25 s poll + 1 s tick late.
    expect(elapsed).toBeGreaterThan(10_000);
    expect(elapsed).toBeLessThan(16_000);
  });

  it("offload move: a callee that resumes elsewhere (re-INVITE) gets the media at its new port, via userspace and then the kernel again", async () => {
    const relay = lab.spawn("relay", "node", ["--input-type=module", "-e", MOVE_RELAY, join(process.cwd(), "dist/media/relay.js"), join(process.cwd(), "dist/log.js"), "3000"]);
    const { a, b } = JSON.parse(await waitForLine(relay, /^\{"a"/, 20_000)) as { a: number; b: number };
    // The caller talks for 8 s; the callee from port 6000 for 3 s, then from 6100 from 3.5 s to past the caller's end.
    const caller = lab.spawn("caller", "node", ["-e", PHONE, "198.18.40.2", "4000", "198.18.40.1", String(a), "400", "0"]);
    const oldCallee = lab.spawn("callee", "node", ["-e", PHONE, "198.18.41.2", "6000", "198.18.41.1", String(b), "150", "0"]);
    const newCallee = lab.spawn("callee", "node", ["-e", PHONE, "198.18.41.2", "6100", "198.18.41.1", String(b), "250", "3500"]);
    // Listen from the start: lines printed before a waiter is attached are lost.
    const results = Promise.all([phoneResult(caller), phoneResult(oldCallee), phoneResult(newCallee)]);
    const beforeLine = waitForLine(relay, /"ev":"before"/, 10_000);
    const movedLine = waitForLine(relay, /"ev":"moved"/, 10_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(lab.exec("relay", "nft", ["list", "table", "ip", "hikari_gw"])).toContain("dnat to 198.18.41.2:6000");
    expect((JSON.parse(await beforeLine) as { offloaded: boolean }).offloaded).toBe(true);
    expect((JSON.parse(await movedLine) as { offloaded: boolean }).offloaded).toBe(false); // out of the kernel at once
    await new Promise((r) => setTimeout(r, 2500)); // ~5.5 s: the new port is latched and offloaded
    const table = lab.exec("relay", "nft", ["list", "table", "ip", "hikari_gw"]);
    expect(table).toContain("dnat to 198.18.41.2:6100");
    expect(table).not.toContain("198.18.41.2:6000");
    const [rc, ro, rn] = await results;
    // The caller's last ~5 s (~250 packets) reach the new port, through the kernel again after
    // ~3.5 s; a few go to the old port while the old rules are being removed. Without a fresh
    // conntrack zone, the old entry kept sending them to 6000 and the new port got none.
    expect(rn.received).toBeGreaterThanOrEqual(200);
    expect(rn.sources).toEqual([`198.18.41.1:${b}`]);
    // The old port had the media until the move (and while the old rules were being removed).
    expect(ro.received).toBeGreaterThanOrEqual(120);
    // The caller hears the callee from both ports (150 + ~220 until it stops), always from the gateway's port.
    expect(rc.received).toBeGreaterThanOrEqual(320);
    expect(rc.sources).toEqual([`198.18.40.1:${a}`]);
    const endLine = waitForLine(relay, /"ev":"end"/, 5_000);
    relay.kill("SIGTERM");
    const end = JSON.parse(await endLine) as { offloaded: boolean; b: { rtpPort: number } };
    expect(end.offloaded).toBe(true);
    expect(end.b.rtpPort).toBe(6100);
  });
});
