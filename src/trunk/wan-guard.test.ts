import { describe, expect, it } from "vitest";
import { silentLogger } from "../log.js";
import { WanGuard, wanGuardScript } from "./wan-guard.js";

describe("wan guard (nftables)", () => {
  it("drops trunk-port datagrams not arriving on the WAN port, and LAN-port ones that do", () => {
    const s = wanGuardScript({ wanInterface: "eth0", leaseAddress: "198.18.4.2", trunkPort: 5060, lanPort: 5060 });
    expect(s).toContain('ip daddr 198.18.4.2 udp dport 5060 iifname != { "eth0", "lo" } counter drop');
    expect(s).toContain('iifname "eth0" udp dport 5060 ip daddr != 198.18.4.2 counter drop');
    expect(s.indexOf("delete table ip hikari_gw_guard")).toBeLessThan(s.lastIndexOf("table ip hikari_gw_guard {"));
    const other = wanGuardScript({ wanInterface: "eth0", leaseAddress: "198.18.4.2", trunkPort: 5060, lanPort: 5070 });
    expect(other).toContain('iifname "eth0" udp dport 5070 counter drop');
    const media = wanGuardScript({ wanInterface: "eth0", leaseAddress: "198.18.4.2", trunkPort: 5060, lanPort: 5060, rtpPorts: "50000-59999" });
    expect(media).toContain('iifname "eth0" udp dport 50000-59999 ip daddr != 198.18.4.2 counter drop');
  });

  it("forwards to and from the WAN port only the offload's DNAT'ed media, drops and counts the rest", () => {
    const s = wanGuardScript({ wanInterface: "eth0", leaseAddress: "198.18.4.2", trunkPort: 5060, lanPort: 5060, rtpPorts: "50000-59999" });
    const chain = s.slice(s.indexOf("chain forward"), s.indexOf("}", s.indexOf("chain forward")));
    expect(chain).toContain("type filter hook forward priority -10; policy accept;");
    const rules = chain.split("\n").slice(1).map((l) => l.trim()).filter(Boolean);
    // Order matters: the two accepts come before the drops; nothing else in the chain, so
    // forwarding between other interfaces (Docker, the VPN) meets no rule of ours.
    expect(rules).toEqual([
      'iifname "eth0" meta l4proto udp ct status dnat ct original proto-dst 50000-59999 accept comment "offloaded media from the line"',
      'oifname "eth0" meta l4proto udp ct status dnat ct original proto-dst 50000-59999 accept comment "offloaded media to the line"',
      'iifname "eth0" counter name "forward_dropped" drop comment "nothing else is routed in from the line"',
      'oifname "eth0" counter name "forward_dropped" drop comment "nothing else is routed out to the line"',
    ]);
    expect(s).toContain("counter forward_dropped {}");
    // Without media.rtp_ports known, any DNAT'ed UDP flow (still only the offload makes them).
    const bare = wanGuardScript({ wanInterface: "eth0", leaseAddress: "198.18.4.2", trunkPort: 5060, lanPort: 5060 });
    expect(bare).toContain('iifname "eth0" meta l4proto udp ct status dnat accept');
    expect(bare).toContain('oifname "eth0" counter name "forward_dropped" drop');
  });

  it("refuses names and addresses nft could misread", () => {
    expect(() => wanGuardScript({ wanInterface: 'eth0" accept', leaseAddress: "198.18.4.2", trunkPort: 5060, lanPort: 5060 })).toThrow(/interface/);
    expect(() => wanGuardScript({ wanInterface: "eth0", leaseAddress: "1.2.3.4; flush ruleset", trunkPort: 5060, lanPort: 5060 })).toThrow(/address/);
  });

  it("installs once per lease, logs a failure instead of throwing, removes the table at stop", async () => {
    const scripts: string[] = [];
    let fail = false;
    const g = new WanGuard({ log: silentLogger(), run: async (s) => (fail ? Promise.reject(new Error("nft: not found")) : void scripts.push(s)) });
    const r = { wanInterface: "eth0", leaseAddress: "198.18.4.2", trunkPort: 5060, lanPort: 5060 };
    expect(await g.apply(r)).toBeUndefined();
    expect(await g.apply(r)).toBeUndefined();
    expect(scripts).toHaveLength(1);
    fail = true;
    expect((await g.apply({ ...r, leaseAddress: "198.18.4.6" }))?.message).toMatch(/not found/);
    fail = false;
    await g.remove();
    expect(scripts.at(-1)).toMatch(/delete table ip hikari_gw_guard/);
  });
});
