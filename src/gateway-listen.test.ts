/**
 * Issue 13 item 6: what the README's example writes (lan.listen 0.0.0.0 and the trunk, both
 * on one port) must start both, and the LAN listener must not answer sources outside
 * lan.allow (the WAN side). A real Gateway on loopback: 127.0.0.2 plays the lease address.
 */
import { afterEach, describe, expect, it } from "vitest";
import dgram from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "./log.js";
import { ManualClock } from "./clock.js";
import { configSchema } from "./config/schema.js";
import { Gateway } from "./gateway.js";

const PORT = 25_060 + (process.pid % 500);
let gw: Gateway | undefined;
let dir: string | undefined;
let clock = new ManualClock(1_000_000);
const sockets: dgram.Socket[] = [];
afterEach(async () => {
  // Stopping waits (on the gateway's clock) for the unanswered un-REGISTER: move fake time on.
  let stopped = false;
  const stop = gw?.stop().then(() => (stopped = true));
  for (let i = 0; i < 1000 && stop && !stopped; i++) {
    clock.advance(100);
    await new Promise((r) => setImmediate(r));
  }
  await stop;
  gw = undefined;
  for (const s of sockets.splice(0)) s.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Wait until cond() holds, giving the event loop real I/O turns (never a sleep); bounded. */
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  for (let turns = 0; !cond(); turns++) {
    if (turns >= 100_000 || Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setImmediate(r));
  }
}

function client(address: string): Promise<{ s: dgram.Socket; got: string[] }> {
  const s = dgram.createSocket("udp4");
  sockets.push(s);
  const got: string[] = [];
  s.on("message", (b) => got.push(b.toString()));
  return new Promise((r) => s.bind(0, address, () => r({ s, got })));
}

const register = (from: string, port: number, to: string) =>
  `REGISTER sip:${to} SIP/2.0\r\nVia: SIP/2.0/UDP ${from}:${port};branch=z9hG4bK${port}\r\nMax-Forwards: 70\r\nFrom: <sip:801@${to}>;tag=a\r\nTo: <sip:801@${to}>\r\nCall-ID: r${port}@x\r\nCSeq: 1 REGISTER\r\nContact: <sip:801@${from}:${port}>\r\nContent-Length: 0\r\n\r\n`;

async function start(lan: Record<string, unknown>): Promise<Gateway> {
  dir = mkdtempSync(join(tmpdir(), "hgw-listen-"));
  const cfg = configSchema().parse({
    wan: { interface: "none" },
    trunk: { enabled: true, server: "127.0.0.9", domain: "example.invalid", number: "0312345678", local_address: "127.0.0.2", local_port: PORT },
    lan: { listen: "0.0.0.0", port: PORT, advertise: "127.0.0.1", ...lan },
    extensions: [{ number: "801", password: "a-long-secret-801" }],
    // Unit tests never touch the host's nftables: the relay stays in userspace.
    media: { rtp_ports: `${PORT + 1000}-${PORT + 1099}`, offload: "none" },
    state_dir: dir,
  });
  clock = new ManualClock(1_000_000);
  gw = new Gateway(cfg, silentLogger(), { version: "test" }, { clock });
  await gw.start();
  return gw;
}

describe("LAN listener on 0.0.0.0 beside the trunk on the same port (issue 13 item 6)", () => {
  it("both start: the trunk registers from its address, the LAN PBX answers on another", async () => {
    const g = await start({});
    const trunk = () => (g.status().trunk as { state: string; last_error?: string });
    await until(() => trunk().state !== "acquiring");
    expect(trunk().state, trunk().last_error).toBe("registering");
    const phone = await client("127.0.0.1");
    phone.s.send(register("127.0.0.1", phone.s.address().port, "127.0.0.1"), PORT, "127.0.0.1");
    await until(() => phone.got.length > 0);
    expect(phone.got[0]).toMatch(/^SIP\/2\.0 401 /);
  });

  it("a source outside lan.allow is dropped unanswered and counted", async () => {
    const g = await start({ allow: ["127.0.0.1/32"] });
    const outsider = await client("127.0.0.3");
    outsider.s.send(register("127.0.0.3", outsider.s.address().port, "127.0.0.1"), PORT, "127.0.0.1");
    const lan = () => (g.status().sip as { lan: { not_allowed: number } }).lan;
    await until(() => lan().not_allowed === 1);
    await new Promise((r) => setImmediate(r));
    expect(outsider.got).toEqual([]);
  });
});
