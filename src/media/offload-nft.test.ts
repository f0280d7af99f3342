import { describe, expect, it } from "vitest";
import { silentLogger } from "../log.js";
import type { OffloadFlow } from "./offload.js";
import { NftOffload, addScript, nftRefusal, parseCounters, removeScript, tableScript } from "./offload-nft.js";

const FLOW: OffloadFlow = { inPort: 50000, src: { address: "198.18.40.2", port: 4000 }, outPort: 50002, dst: { address: "198.18.41.2", port: 6000 } };

describe("nftables offload scripts", () => {
  it("counts offloaded packets in the raw hooks (every packet, before DNAT), keyed by port and latched source", () => {
    const t = tableScript("198.18.0.1", 50000, 50099);
    expect(t).toContain("map counts { type inet_service . ipv4_addr . inet_service : counter; }");
    const rule = "ip daddr 198.18.0.1 udp dport @offloaded counter name udp dport . ip saddr . udp sport map @counts";
    expect(t.split(rule)).toHaveLength(3); // raw_pre and raw_out (local peers)
    expect(t.indexOf(rule)).toBeGreaterThan(t.indexOf("chain raw_pre"));
    expect(t.indexOf(rule)).toBeLessThan(t.indexOf("chain raw_out"));
  });

  it("installs a flow's counter before the port joins the offloaded set, and removes it after the port left", () => {
    const add = addScript("198.18.0.1", [FLOW], 7);
    const counter = add.indexOf("add counter ip hikari_gw c50000");
    const element = add.indexOf('add element ip hikari_gw counts { 50000 . 198.18.40.2 . 4000 : "c50000" }');
    expect(counter).toBeGreaterThan(-1);
    expect(element).toBeGreaterThan(counter);
    expect(add.indexOf("add element ip hikari_gw offloaded { 50000 }")).toBeGreaterThan(element);
    const rm = removeScript([FLOW]);
    const left = rm.indexOf("delete element ip hikari_gw offloaded { 50000 }");
    const unmap = rm.indexOf("delete element ip hikari_gw counts { 50000 . 198.18.40.2 . 4000 }");
    expect(left).toBe(0);
    expect(unmap).toBeGreaterThan(left);
    expect(rm.indexOf("delete counter ip hikari_gw c50000")).toBeGreaterThan(unmap);
  });

  it("puts each install in a conntrack zone of its own, set in the raw hooks for both directions", async () => {
    const t = tableScript("198.18.0.1", 50000, 50099);
    expect(t).toContain("map zones { typeof udp dport : ct zone; }");
    expect(t.split("ip daddr 198.18.0.1 udp dport @offloaded ct zone set udp dport map @zones")).toHaveLength(3);
    const back: OffloadFlow = { inPort: 50002, src: FLOW.dst, outPort: 50000, dst: FLOW.src };
    const add = addScript("198.18.0.1", [FLOW, back], 7);
    expect(add).toContain("add element ip hikari_gw zones { 50000 : 7 }");
    expect(add).toContain("add element ip hikari_gw zones { 50002 : 7 }");
    expect(add.indexOf("zones { 50000 : 7 }")).toBeLessThan(add.indexOf("offloaded { 50000 }"));
    expect(removeScript([FLOW])).toContain("delete element ip hikari_gw zones { 50000 }");
    // A session offloaded again (a peer moved) gets a new zone: its old conntrack entries stay behind.
    const runs: string[] = [];
    const off = (await NftOffload.start({ gwAddress: "198.18.0.1", portMin: 50000, portMax: 50099, log: silentLogger(), run: async (s) => void runs.push(s) }))!;
    await off.add(50000, [FLOW, back]);
    await off.remove(50000, "peer moved");
    await off.add(50000, [FLOW, back]);
    const zones = runs.flatMap((r) => [...r.matchAll(/zones \{ 50000 : (\d+) \}/g)].map((m) => Number(m[1])));
    expect(zones).toHaveLength(2);
    expect(zones[0]).not.toBe(zones[1]);
    expect(Math.min(...zones)).toBeGreaterThan(0);
  });

  it("reads every flow's packets with one nft run, ignoring counters that are not ours", async () => {
    const runs: string[] = [];
    const reads: string[][] = [];
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: "1.0.6" } },
        { counter: { family: "ip", name: "c50000", table: "hikari_gw", handle: 9, packets: 417, bytes: 71724 } },
        { counter: { family: "ip", name: "c50002", table: "hikari_gw", handle: 10, packets: 0, bytes: 0 } },
        { counter: { family: "ip", name: "other", table: "hikari_gw", handle: 11, packets: 5, bytes: 5 } },
      ],
    });
    const off = await NftOffload.start({
      gwAddress: "198.18.0.1",
      portMin: 50000,
      portMax: 50099,
      log: silentLogger(),
      run: async (s) => void runs.push(s),
      read: async (args) => (reads.push(args), json),
    });
    expect(off).not.toBeNull();
    expect(await off!.add(50000, [FLOW])).toBe(true);
    const counts = await off!.packets();
    expect(reads).toEqual([["-j", "list", "counters", "table", "ip", "hikari_gw"]]);
    expect([...counts]).toEqual([
      [50000, 417],
      [50002, 0],
    ]);
    await off!.remove(50000, "bye");
    expect(runs.at(-1)).toContain("delete counter ip hikari_gw c50000");
  });

  it("parses an empty table and rejects garbage (the relay then keeps offloaded calls up)", () => {
    expect(parseCounters('{"nftables":[{"metainfo":{}}]}').size).toBe(0);
    expect(() => parseCounters("Error: No such file or directory")).toThrow();
  });

  describe("the start-up probe (media.offload auto)", () => {
    const base = { gwAddress: "198.18.0.1", portMin: 50000, portMax: 50099, log: silentLogger() };

    it("is creating the relay's table: when nft takes it, the offload is ready", async () => {
      const runs: string[] = [];
      const r = await NftOffload.probe({ ...base, requireForwarding: true, ipForward: () => true, run: async (s) => void runs.push(s) });
      expect(r).toBeInstanceOf(NftOffload);
      expect(runs).toHaveLength(1);
      expect(runs[0]).toContain("table ip hikari_gw {");
    });

    it("says why not: no nft, no CAP_NET_ADMIN, no routing, not IPv4", async () => {
      const enoent = Object.assign(new Error("spawn nft ENOENT"), { code: "ENOENT" });
      expect(await NftOffload.probe({ ...base, ipForward: () => true, run: () => Promise.reject(enoent) })).toMatch(/^nft is not installed/);
      const eperm = new Error("nft exited 1: Error: Could not process rule: Operation not permitted");
      expect(await NftOffload.probe({ ...base, ipForward: () => true, run: () => Promise.reject(eperm) })).toMatch(/^no CAP_NET_ADMIN/);
      expect(nftRefusal(new Error("nft exited 1: Error: syntax error"))).toMatch(/^nft refused the relay's table: /);
      const runs: string[] = [];
      const run = async (s: string) => void runs.push(s);
      expect(await NftOffload.probe({ ...base, requireForwarding: true, ipForward: () => false, run })).toMatch(/^net\.ipv4\.ip_forward is 0/);
      expect(await NftOffload.probe({ ...base, gwAddress: "::", ipForward: () => true, run })).toMatch(/IPv4 only/);
      expect(runs).toEqual([]); // nothing was created on the way
      // Asked for explicitly (media.offload: nftables), a host that does not route only warns.
      expect(await NftOffload.probe({ ...base, ipForward: () => false, run })).toBeInstanceOf(NftOffload);
    });
  });
});
