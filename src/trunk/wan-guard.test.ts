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
