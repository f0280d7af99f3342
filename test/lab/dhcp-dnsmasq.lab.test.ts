/**
 * The DHCP client against dnsmasq (Debian), with NGN-style options 120, 121 and 125, in
 * network namespaces. dnsmasq's shortest lease is 2 minutes, so T1/T2 are set by option
 * (10 s / 20 s) to see RENEWING and REBINDING quickly; expiry is tested against kea.
 * The tests run in order on one topology: each step starts from the previous one's state.
 */
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trunkParamsFromLease, type Lease } from "../../src/dhcp/lease.js";
import { labReady } from "./env.js";
import type { Lab } from "./netns.js";
import { addresses, CLI, CLIENT_MAC, DhcpLab, EXPECTED_TRUNK, LabClient, LineLog, ngnOption125, ROUTES_121, routes, rpFilter, stopChild, type DhcpServerRecipe } from "./dhcp/harness.js";

const ready = labReady("dhcp-dnsmasq", ["dnsmasq", "tshark", "nft", "node"]);

const colonHex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");

const DNSMASQ: DhcpServerRecipe = {
  spawn: (lab, dir) =>
    lab.spawn("srv", "dnsmasq", [
      "--no-daemon",
      "--conf-file=/dev/null",
      "--port=0",
      "--no-ping",
      "--dhcp-authoritative",
      "--interface=lan1",
      "--dhcp-range=198.18.1.10,198.18.1.20,255.255.255.0,2m",
      "--dhcp-option=option:T1,10",
      "--dhcp-option=option:T2,20",
      "--dhcp-option=option:sip-server,198.18.1.5",
      `--dhcp-option=121,${colonHex(ROUTES_121)}`,
      `--dhcp-option-force=125,${colonHex(ngnOption125())}`,
      "--log-dhcp",
      `--dhcp-leasefile=${join(dir, "dnsmasq.leases")}`,
      `--pid-file=${join(dir, "dnsmasq.pid")}`,
    ]),
  ready: /DHCP, IP range/,
  readyTimeoutMs: 10_000,
};

describe.skipIf(!ready)("DHCP client vs dnsmasq", () => {
  let d: DhcpLab;
  let lab: Lab;
  let dir: string;
  let stateDir: string;
  let client: LabClient;
  let bound: Lease;

  beforeAll(async () => {
    d = await DhcpLab.start({ dirPrefix: "hgwdhcp-", server: DNSMASQ });
    ({ lab, dir } = d);
    stateDir = join(dir, "state");
  });

  afterAll(async () => {
    await d?.close(client);
  });

  it("takes a lease on an unaddressed port with a LAN interface present", async () => {
    client = LabClient.start(lab, ["--state-dir", stateDir]);
    const ev = await client.event("bound", 20_000);
    bound = ev.lease as unknown as Lease;
    expect(bound.address).toMatch(/^198\.18\.1\.(1\d|20)$/);
    expect(trunkParamsFromLease(bound)).toEqual({ server: "198.18.1.5", domain: EXPECTED_TRUNK.domain, number: EXPECTED_TRUNK.number, additional_numbers: EXPECTED_TRUNK.additional_numbers });
    expect(bound).toMatchObject({ prefix: 24, t1: 10, t2: 20, lease_time: 120, server_id: "198.18.1.1", routes: [{ destination: "198.18.128.0", prefix: 17, gateway: "198.18.1.1" }] });
    // Applied: address and the option 121 route, no default route, LAN untouched.
    expect(addresses(lab, "cli", "wan0")).toEqual([`${bound.address}/24`]);
    const rt = routes(lab, "cli");
    expect(rt).toMatch(/198\.18\.128\.0\/17 via 198\.18\.1\.1 dev wan0 proto dhcp/);
    expect(rt).not.toMatch(/default.*wan0/);
    expect(rpFilter(lab, "wan0")).toBe("2"); // relaxed only while the port had no address
    expect(addresses(lab, "cli", "lan0")).toEqual(["198.18.9.1/24"]);
    // The server saw our DISCOVER and what we asked for (option 55).
    await d.server.waitFor(new RegExp(`DHCPDISCOVER\\(lan1\\) ${CLIENT_MAC}`), 1000);
    const asked = d.server.lines.filter((l) => l.includes("requested options")).join(" ");
    for (const o of ["1:netmask", "3:router", "120:sip-server", "121:classless-static-route", "125:vendor-id-encap"]) expect(asked).toContain(o);
  });

  it("renews at T1 (server log shows the REQUEST and ACK)", async () => {
    const acks = d.server.count(/DHCPACK\(lan1\)/);
    const ev = await client.event("renewed", 20_000);
    const dt = ev.lease!.acquired_at - bound.acquired_at;
    expect(dt).toBeGreaterThanOrEqual(bound.t1 * 1000 - 100);
    expect(dt).toBeLessThan(bound.t1 * 1000 + 2000);
    await d.server.waitFor(/DHCPACK\(lan1\)/, 1000);
    expect(d.server.count(/DHCPACK\(lan1\)/)).toBeGreaterThan(acks);
    bound = ev.lease as unknown as Lease;
  });

  it("rebinds at T2 when the server is gone at T1 and back before T2", async () => {
    // dnsmasq counts T1/T2 of a renewed lease from the original grant (here 9 s / 19 s).
    const renewedAt = bound.acquired_at;
    const { t1, t2 } = bound;
    const from = client.log.lines.length;
    await d.stopServer();
    // Past the next T1 (renewedAt + 10 s): the unicast REQUEST goes unanswered.
    await new Promise((r) => setTimeout(r, Math.max(0, renewedAt + t1 * 1000 + 2000 - Date.now())));
    await d.startServer();
    const ev = await client.event("renewed", 20_000, from);
    const dt = ev.lease!.acquired_at - renewedAt;
    expect(dt).toBeGreaterThanOrEqual(t2 * 1000 - 100); // answered at T2, by broadcast
    expect(dt).toBeLessThan(t2 * 1000 + 2000);
    expect(ev.lease!.address).toBe(bound.address);
    expect(d.server.count(new RegExp(`DHCPREQUEST\\(lan1\\) ${bound.address.replace(/\./g, "\\.")} ${CLIENT_MAC}`))).toBeGreaterThanOrEqual(1);
    expect(addresses(lab, "cli", "wan0")).toEqual([`${bound.address}/24`]);
    bound = ev.lease as unknown as Lease;
  });

  it("reuses the saved lease after a restart (INIT-REBOOT: REQUEST, no DISCOVER)", async () => {
    await client.stop();
    expect(addresses(lab, "cli", "wan0")).toEqual([`${bound.address}/24`]); // no release on a plain stop
    const from = d.server.lines.length;
    client = LabClient.start(lab, ["--state-dir", stateDir]);
    const ev = await client.event("bound", 20_000);
    expect(ev.lease!.address).toBe(bound.address);
    await d.server.waitFor(/DHCPACK\(lan1\)/, 1000, from);
    expect(d.server.count(/DHCPDISCOVER/, from)).toBe(0);
    expect(d.server.count(/DHCPREQUEST/, from)).toBeGreaterThanOrEqual(1);
  });

  it("handles a NAK: a saved lease the server refuses is dropped and a new one taken", async () => {
    await client.stop();
    const file = join(stateDir, "dhcp-wan0.json");
    const saved = JSON.parse(await readFile(file, "utf8")) as Lease;
    await writeFile(file, JSON.stringify({ ...saved, address: "198.18.1.77" }));
    const from = d.server.lines.length;
    client = LabClient.start(lab, ["--state-dir", stateDir]);
    const lost = await client.event("expired", 20_000);
    expect(lost.lease!.address).toBe("198.18.1.77");
    await d.server.waitFor(/DHCPNAK\(lan1\) 198\.18\.1\.77/, 1000, from);
    const ev = await client.event("bound", 30_000, lost.index);
    expect(ev.lease!.address).toBe(bound.address);
    expect(d.server.count(/DHCPDISCOVER/, from)).toBeGreaterThanOrEqual(1);
  });

  it("releases on a clean shutdown when asked: RELEASE seen, address and routes removed", async () => {
    await client.stop();
    client = LabClient.start(lab, ["--state-dir", stateDir, "--release-on-exit"]);
    await client.event("bound", 20_000);
    const from = d.server.lines.length;
    await client.stop();
    await client.event("released", 2000);
    await d.server.waitFor(new RegExp(`DHCPRELEASE\\(lan1\\) ${bound.address.replace(/\./g, "\\.")}`), 5000, from);
    expect(addresses(lab, "cli", "wan0")).toEqual([]);
    expect(routes(lab, "cli")).not.toMatch(/wan0/);
    await expect(readFile(join(stateDir, "dhcp-wan0.json"))).rejects.toThrow();
    // our nftables table is gone with the client
    expect(lab.exec("cli", "nft", ["list", "tables"])).not.toMatch(/hikari_gw_dhcp/);
  });

  it("`hikari-gw dhcp --json` prints the decoded lease, releases it, and tshark finds nothing malformed", async () => {
    const pcap = join(dir, "client.pcap");
    const cap = lab.spawn("cli", "tshark", ["-i", "wan0", "-f", "udp port 67 or udp port 68", "-w", pcap]);
    await new LineLog(cap).waitFor(/Capturing on/, 10_000);
    const from = d.server.lines.length;
    const cmd = spawn("ip", ["netns", "exec", lab.ns("cli"), "node", CLI, "dhcp", "--interface", "wan0", "--json"], { stdio: ["ignore", "pipe", "pipe"] });
    const out = new LineLog(cmd);
    // The lease goes to stdout; log lines (e.g. the rp_filter advice) go to stderr.
    let stdout = "";
    cmd.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    // "close", not "exit": stdout is read to its end.
    const code = await new Promise<number | null>((r) => cmd.once("close", (c) => r(c)));
    expect(code, out.lines.join("\n")).toBe(0);
    const printed = JSON.parse(stdout.trim()) as Record<string, unknown>;
    for (const k of ["address", "prefix", "router", "lease_time", "routes", "sip_servers", "domain", "number", "additional_numbers", "vendor_options"]) expect(printed).toHaveProperty(k);
    expect(printed).toMatchObject({ ...EXPECTED_TRUNK, prefix: 24, router: "198.18.1.1", lease_time: 120 });
    await d.server.waitFor(/DHCPRELEASE\(lan1\)/, 5000, from);
    expect(addresses(lab, "cli", "wan0")).toEqual([]); // without --keep the port is left alone
    await new Promise((r) => setTimeout(r, 500));
    await stopChild(cap);

    // Our packets (from port 68) with checksum checks on. The server's replies are left out
    // of the checksum check: over veth they arrive with offloaded, unfilled UDP checksums.
    const all = lab.exec("cli", "tshark", ["-r", pcap, "-V"]);
    expect(all).not.toMatch(/Malformed/i);
    expect(all).toMatch(/Option: \(125\) V-I Vendor-specific Information/);
    const dissected = lab.exec("cli", "tshark", ["-r", pcap, "-V", "-Y", "udp.srcport == 68", "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"]);
    expect(dissected).toMatch(/DHCP: Discover \(1\)/);
    expect(dissected).toMatch(/DHCP: Release \(7\)/);
    expect(dissected).not.toMatch(/Malformed/i);
    expect(dissected).not.toMatch(/Expert Info \((Error|Warning)/);
    expect(dissected).not.toMatch(/\[(Header checksum|Checksum) status: Bad\]/i);
    expect(dissected).toMatch(/Option: \(55\) Parameter Request List/);
    expect(dissected).toMatch(/Parameter Request List Item: \(120\)/);
    expect(dissected).toMatch(/Option: \(124\) V-I Vendor Class/);
    expect(dissected).toMatch(/Option: \(61\) Client identifier/);
    // RFC 2131 §4.1: before it has an address the client sends from 0.0.0.0, not the LAN's.
    const sources = lab.exec("cli", "tshark", ["-r", pcap, "-Y", "dhcp.option.dhcp == 1 || dhcp.option.dhcp == 3", "-T", "fields", "-e", "ip.src", "-e", "dhcp.option.dhcp"]);
    const rows = sources.trim().split("\n").map((l) => l.split("\t"));
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const [src] of rows) expect(src).toBe("0.0.0.0");
  });

  it("a running client survives a flood of mutated packets on the wire and still releases", async () => {
    client = LabClient.start(lab, ["--state-dir", stateDir, "--release-on-exit"]);
    const b = (await client.event("bound", 20_000)).lease!;
    // The fuzzer must send from port 67 to pass the transport's filter: take dnsmasq's place.
    await d.stopServer();
    const fuzzer = `
      const dgram = require("node:dgram");
      const s = dgram.createSocket({ type: "udp4", reuseAddr: true });
      const seed = Buffer.from(process.argv[1], "hex");
      const r = (n) => Math.floor(Math.random() * n);
      s.bind(67, "198.18.1.1", async () => {
        s.setBroadcast(true);
        for (let i = 0; i < 3000; i++) {
          let p;
          if (i % 3 === 0) p = Buffer.from(Array.from({ length: r(600) }, () => r(256)));
          else {
            p = Buffer.from(seed);
            for (let k = 0; k < 1 + r(10); k++) p[240 + r(p.length - 240)] = r(256);
            if (i % 3 === 2) p = p.subarray(0, 236 + r(p.length - 236));
          }
          await new Promise((res) => s.send(p, 68, i % 2 ? "255.255.255.255" : process.argv[2], res));
        }
        s.close();
        console.log("sent 3000");
      });`;
    const seed = Buffer.concat([Buffer.from("0201060000000000000000000000000000000000000000000000000000000000", "hex"), Buffer.alloc(204), Buffer.from("63825363350105", "hex"), Buffer.from([125, ngnOption125().length]), ngnOption125(), Buffer.from([120, 5, 1, 198, 18, 1, 5, 255])]);
    const f = lab.spawn("srv", "node", ["-e", fuzzer, seed.toString("hex"), b.address]);
    await new LineLog(f).waitFor(/sent 3000/, 30_000);
    expect(client.child.exitCode).toBeNull();
    expect(client.log.count(/"event":"(error|expired|changed)"/)).toBe(0);
    await d.startServer();
    await client.stop();
    await client.event("released", 2000);
    expect(addresses(lab, "cli", "wan0")).toEqual([]);
  });

  it("`hikari-gw dhcp --keep` leaves the lease applied and unreleased", async () => {
    const from = d.server.lines.length;
    const cmd = spawn("ip", ["netns", "exec", lab.ns("cli"), "node", CLI, "dhcp", "--interface", "wan0", "--keep"], { stdio: ["ignore", "pipe", "pipe"] });
    const out = new LineLog(cmd);
    const code = await new Promise<number | null>((r) => cmd.once("exit", (c) => r(c)));
    expect(code, out.lines.join("\n")).toBe(0);
    const address = /^address: (\S+)$/m.exec(out.lines.join("\n"))?.[1];
    expect(out.lines).toContain("number: 0312345678");
    expect(out.lines).toContain("route: 198.18.128.0/17 via 198.18.1.1");
    expect(addresses(lab, "cli", "wan0")).toEqual([`${address}/24`]);
    expect(routes(lab, "cli")).toMatch(/198\.18\.128\.0\/17 via 198\.18\.1\.1 dev wan0/);
    expect(d.server.count(/DHCPRELEASE/, from)).toBe(0);
    expect(lab.exec("cli", "nft", ["list", "tables"])).not.toMatch(/hikari_gw_dhcp/);
  });
});
