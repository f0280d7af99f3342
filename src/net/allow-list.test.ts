import { describe, expect, it } from "vitest";
import type { NetworkInterfaceInfo } from "node:os";
import { AllowList, defaultLanNetworks, parseCidr } from "./allow-list.js";

const v4 = (address: string, cidr: string, internal = false): NetworkInterfaceInfo => ({ address, cidr, internal, family: "IPv4", netmask: "", mac: "00:00:00:00:00:00" });

describe("lan.allow networks", () => {
  it("parses CIDR and bare addresses, refuses the rest", () => {
    expect(parseCidr("10.8.0.0/24")).toEqual({ address: "10.8.0.0", prefix: 24, family: "ipv4" });
    expect(parseCidr("192.168.1.5")).toEqual({ address: "192.168.1.5", prefix: 32, family: "ipv4" });
    expect(parseCidr("fd00::/8")?.family).toBe("ipv6");
    for (const bad of ["10.8.0.0/33", "10.8.0/24", "eth0", "10.8.0.0/24/1", "10.8.0.0/x", ""]) expect(parseCidr(bad), bad).toBeUndefined();
  });

  it("allows addresses inside the networks only (IPv4-mapped too)", () => {
    const a = new AllowList(["10.8.0.0/24", "127.0.0.0/8"]);
    expect(a.allows("10.8.0.7")).toBe(true);
    expect(a.allows("::ffff:10.8.0.7")).toBe(true);
    expect(a.allows("127.0.0.1")).toBe(true);
    expect(a.allows("10.8.1.7")).toBe(false);
    expect(a.allows("198.18.5.1")).toBe(false);
    expect(a.allows("not-an-address")).toBe(false);
  });

  it("gives the same answers from its memo, past its size too (a flood of sources)", () => {
    const a = new AllowList(["10.8.0.0/24", "127.0.0.0/8"]);
    const addrs: string[] = [];
    for (let i = 0; i < 700; i++) addrs.push(i % 2 === 0 ? `10.8.0.${i % 256}` : `10.9.${i >> 8}.${i % 256}`);
    for (let round = 0; round < 2; round++) {
      for (const x of round === 0 ? addrs : [...addrs].reverse()) expect(a.allows(x), x).toBe(x.startsWith("10.8.0."));
    }
    expect(a.allows("::ffff:10.8.0.7")).toBe(true);
    expect(a.allows("::ffff:10.8.0.7")).toBe(true);
  });

  it("defaults to the subnets of every interface but the WAN one (listen 0.0.0.0), or of the listen address's interface, plus loopback", () => {
    const ifs = { lo: [v4("127.0.0.1", "127.0.0.1/8", true)], eth0: [v4("198.18.4.2", "198.18.4.2/24")], eth1: [v4("192.168.1.7", "192.168.1.7/24")], wg0: [v4("10.8.0.1", "10.8.0.1/24")] };
    expect(defaultLanNetworks("0.0.0.0", "eth0", ifs)).toEqual(["127.0.0.0/8", "::1/128", "192.168.1.0/24", "10.8.0.0/24"]);
    expect(defaultLanNetworks("10.8.0.1", "eth0", ifs)).toEqual(["127.0.0.0/8", "::1/128", "10.8.0.0/24"]);
  });
});
