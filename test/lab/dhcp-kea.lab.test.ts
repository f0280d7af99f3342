/**
 * The DHCP client against kea-dhcp4 (Debian), a second independent server, with short
 * leases (30 s; T1 10 s, T2 20 s) so expiry is seen too. Options 120/121/125 are given as
 * raw hex (csv-format false), 120 through a binary option-def, exactly as the NGN sends them.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trunkParamsFromLease, type Lease } from "../../src/dhcp/lease.js";
import { labReady } from "./env.js";
import type { Lab } from "./netns.js";
import { addresses, DhcpLab, EXPECTED_TRUNK, LabClient, ngnOption125, ROUTES_121, routes, type DhcpServerRecipe } from "./dhcp/harness.js";

const ready = labReady("dhcp-kea", ["kea-dhcp4", "nft", "node"]);

function keaConfig(dir: string): object {
  const hex = (b: Buffer) => b.toString("hex").toUpperCase();
  return {
    Dhcp4: {
      "interfaces-config": { interfaces: ["lan1"], "dhcp-socket-type": "raw" },
      "lease-database": { type: "memfile", persist: true, name: join(dir, "leases.csv"), "lfc-interval": 0 },
      "valid-lifetime": 30,
      "renew-timer": 10,
      "rebind-timer": 20,
      authoritative: true,
      "option-def": [{ name: "ngn-sip-server", code: 120, type: "binary", space: "dhcp4" }],
      subnet4: [
        {
          id: 1,
          subnet: "198.18.1.0/24",
          pools: [{ pool: "198.18.1.100 - 198.18.1.110" }],
          "option-data": [
            { name: "routers", data: "198.18.1.1" },
            // RFC 3361 IPv4 encoding: 1, then 198.18.1.5
            { name: "ngn-sip-server", data: "01C6120105", "csv-format": false, "always-send": true },
            { code: 121, data: hex(ROUTES_121), "csv-format": false, "always-send": true },
            { code: 125, data: hex(ngnOption125()), "csv-format": false, "always-send": true },
          ],
        },
      ],
      loggers: [
        { name: "kea-dhcp4", output_options: [{ output: "stdout" }], severity: "INFO" },
        { name: "kea-dhcp4.packets", output_options: [{ output: "stdout" }], severity: "DEBUG", debuglevel: 99 },
      ],
    },
  };
}

const KEA: DhcpServerRecipe = {
  prepare: (dir) => writeFile(join(dir, "kea.json"), JSON.stringify(keaConfig(dir), null, 2)),
  spawn: (lab, dir) => lab.spawn("srv", "env", [`KEA_PIDFILE_DIR=${dir}`, `KEA_LOCKFILE_DIR=${dir}`, "kea-dhcp4", "-c", join(dir, "kea.json")]),
  ready: /DHCP4_STARTED/,
  readyTimeoutMs: 15_000,
};

describe.skipIf(!ready)("DHCP client vs kea-dhcp4", () => {
  let d: DhcpLab;
  let lab: Lab;
  let dir: string;
  let client: LabClient;
  let bound: Lease;

  const received = (type: string, src: string, dst: string) =>
    new RegExp(`${type} \\(type \\d+\\) received from ${src.replace(/\./g, "\\.")} to ${dst.replace(/\./g, "\\.")}`);

  beforeAll(async () => {
    d = await DhcpLab.start({ dirPrefix: "hgwdhcp-kea-", server: KEA });
    ({ lab, dir } = d);
  });

  afterAll(async () => {
    await d?.close(client);
  });

  it("takes a lease with the NGN options while a LAN interface exists", async () => {
    // debug logs show each send with its kind and destination
    client = LabClient.start(lab, ["--state-dir", join(dir, "state"), "--log-level", "debug"]);
    bound = (await client.event("bound", 20_000)).lease as unknown as Lease;
    expect(bound).toMatchObject({ prefix: 24, lease_time: 30, t1: 10, t2: 20, server_id: "198.18.1.1", router: "198.18.1.1", sip_servers: ["198.18.1.5"] });
    expect(bound.address).toMatch(/^198\.18\.1\.1(0\d|10)$/);
    expect(trunkParamsFromLease(bound)).toEqual({ server: "198.18.1.5", domain: EXPECTED_TRUNK.domain, number: EXPECTED_TRUNK.number, additional_numbers: EXPECTED_TRUNK.additional_numbers });
    expect(addresses(lab, "cli", "wan0")).toEqual([`${bound.address}/24`]);
    expect(routes(lab, "cli")).toMatch(/198\.18\.128\.0\/17 via 198\.18\.1\.1 dev wan0/);
    // DISCOVER from 0.0.0.0 although lan0 has 198.18.9.1 (RFC 2131 §4.1)
    expect(d.server.count(received("DHCPDISCOVER", "0.0.0.0", "255.255.255.255"))).toBeGreaterThanOrEqual(1);
    expect(d.server.count(/received from 198\.18\.9\.1/)).toBe(0);
  });

  it("renews at T1 by unicast to the server (kea's packet log)", async () => {
    const from = d.server.lines.length;
    const ev = await client.event("renewed", 20_000);
    const dt = ev.lease!.acquired_at - bound.acquired_at;
    expect(dt).toBeGreaterThanOrEqual(9_900);
    expect(dt).toBeLessThan(12_000);
    await d.server.waitFor(received("DHCPREQUEST", bound.address, "198.18.1.1"), 2000, from);
    bound = ev.lease as unknown as Lease;
  });

  it("with the server gone: unicast at T1, broadcast at T2, expiry removes the address; INIT again", async () => {
    await d.stopServer();
    const sendsFrom = client.log.lines.length;
    const ev = await client.event("expired", 40_000);
    const sends = client.log.lines.slice(sendsFrom, ev.index).filter((l) => l.includes('"msg":"DHCP send"')).map((l) => JSON.parse(l) as { kind: string; dst: string });
    const seen = sends.map((x) => `${x.kind} ${x.dst}`);
    // After expiry the next DISCOVER may go out before the `expired` line is printed.
    expect(seen.slice(0, 2), JSON.stringify(seen)).toEqual(["request-renewing 198.18.1.1", "request-rebinding 255.255.255.255"]);
    expect(seen.slice(2).every((x) => x === "discover 255.255.255.255"), JSON.stringify(seen)).toBe(true);
    const dt = ev.at - bound.acquired_at;
    expect(dt).toBeGreaterThanOrEqual(29_900);
    expect(dt).toBeLessThan(33_000);
    expect(addresses(lab, "cli", "wan0")).toEqual([]);
    expect(routes(lab, "cli")).not.toMatch(/wan0/);
    expect(addresses(lab, "cli", "lan0")).toEqual(["198.18.9.1/24"]);
    // Back in INIT: the server, when it returns, sees DISCOVERs and the client binds again.
    const from = client.log.lines.length;
    await d.startServer();
    const again = await client.event("bound", 30_000, from);
    expect(again.lease!.address).toMatch(/^198\.18\.1\.1(0\d|10)$/);
    expect(d.server.count(received("DHCPDISCOVER", "0.0.0.0", "255.255.255.255"))).toBeGreaterThanOrEqual(1);
    expect(addresses(lab, "cli", "wan0")).toEqual([`${again.lease!.address}/24`]);
  });
});
