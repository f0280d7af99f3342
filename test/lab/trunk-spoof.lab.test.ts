/**
 * Issue 13 item 3: a LAN host forging the NGN server's source address must not reach the
 * trunk. The gateway's namespace runs Debian's loose rp_filter (2) on every interface, so
 * the forged datagram is routed in on the LAN side; phone 802's host adds the P-CSCF's
 * address to its own interface and routes the lease address via the gateway, then sends an
 * INVITE "from the line". With the WAN guard (nftables, the default) the trunk never hears
 * it; the same datagram with `wan.guard: none` rings the gateway, which proves the attack
 * path is real in this lab (and that the test fails without the guard).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labReady } from "./env.js";
import { Lab } from "./netns.js";
import type { Ngn } from "./ngn/emulator.js";
import { NGN_LAB } from "./ngn/addresses.js";
import type { Phone, SipLab } from "./sip/topology.js";
import type { TrunkGateway } from "./trunk/gateway-run.js";
import { startTrunkLab, type TrunkLab, stopTrunkLab } from "./trunk/trunk-lab.js";

const ready = labReady("trunk spoof lab", ["sipp", "dnsmasq", "nft"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FORGED_CALLER = "0399990666";

describe.skipIf(!ready)("the trunk hears only the WAN port (issue 13 item 3)", () => {
  let lab: Lab;
  let t: TrunkLab;
  let net: SipLab;
  let ngn: Ngn;
  let gw: TrunkGateway;
  let attacker: Phone;
  const lease = NGN_LAB.subnets[0].lease;

  async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms\n${gw.lines.slice(-30).join("\n")}`);
      await sleep(100);
    }
  }

  /** Registrations the NGN granted so far (the gateway's trunk is up once one more comes). */
  const granted = () => ngn.sipLog.filter((e) => e.note === "200 registered").length;

  /** The forged INVITE, sent from <P-CSCF>:5060 on the attacker's host to <lease>:5060. */
  function sendForged(tag: string): void {
    const invite = [
      `INVITE sip:${NGN_LAB.mainNumber}@${lease}:5060 SIP/2.0`,
      `Via: SIP/2.0/UDP ${NGN_LAB.pcscf}:5060;branch=z9hG4bKspoof${tag}`,
      "Max-Forwards: 70",
      `From: <sip:${FORGED_CALLER}@${NGN_LAB.domain}>;tag=spoof${tag}`,
      `To: <sip:${NGN_LAB.mainNumber}@${NGN_LAB.domain}>`,
      `Call-ID: spoof-${tag}@${NGN_LAB.pcscf}`,
      "CSeq: 1 INVITE",
      `Contact: <sip:${FORGED_CALLER}@${NGN_LAB.pcscf}:5060>`,
      `P-Asserted-Identity: <sip:${FORGED_CALLER}@${NGN_LAB.domain}>`,
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n");
    const script = `const s=require("dgram").createSocket("udp4");s.bind(5060,${JSON.stringify(NGN_LAB.pcscf)},()=>s.send(Buffer.from(process.argv[1]),5060,${JSON.stringify(lease)},(e)=>{if(e)throw e;s.close();}));`;
    lab.exec(attacker.host, process.execPath, ["-e", script, invite], { timeoutMs: 5000 });
  }

  const heardForged = () => gw.lines.some((l) => l.includes("incoming call from the line") && l.includes(FORGED_CALLER));

  beforeAll(async () => {
    lab = new Lab("hgwtsp");
    t = await startTrunkLab(lab, { dirPrefix: "hgw-trunk-spoof-", sippName: (sc) => `spoof-${sc.replace(".xml", "")}` });
    ({ net, ngn, gw } = t);
    attacker = t.phone2;
    expect(t.registration.code, t.registration.output).toBe(0);
    await ngn.waitRegistered(30_000);
    // Debian's default: loose reverse-path filtering, which lets the forged source in on the
    // LAN side (set per interface once the lease is held: `all` would override the gateway
    // lifting it on the unaddressed WAN port during DHCP).
    for (const k of [NGN_LAB.wanIf, "br0"]) lab.exec(net.gatewayHost, "sysctl", ["-qw", `net.ipv4.conf.${k}.rp_filter=2`]);
    lab.exec(attacker.host, "ip", ["addr", "add", `${NGN_LAB.pcscf}/32`, "dev", "eth0"]);
    lab.exec(attacker.host, "ip", ["route", "add", `${lease}/32`, "via", net.gatewayAddr]);
  }, 90_000);

  afterAll(async () => {
    await stopTrunkLab(lab, t);
  });

  it("with the guard (default): the forged INVITE is dropped by the kernel, the trunk never hears it", async () => {
    await until(() => gw.lines.some((l) => l.includes("wan guard installed")), 10_000, "wan guard installed");
    const rules = lab.exec(net.gatewayHost, "nft", ["list", "table", "ip", "hikari_gw_guard"]);
    expect(rules).toContain(`ip daddr ${lease} udp dport 5060`);
    for (let i = 0; i < 3; i++) sendForged(`g${i}`);
    await sleep(1500);
    expect(heardForged(), gw.lines.slice(-20).join("\n")).toBe(false);
    // The drop rule counted them (3 datagrams), so they did arrive and were refused by the guard.
    const after = lab.exec(net.gatewayHost, "nft", ["list", "table", "ip", "hikari_gw_guard"]);
    const line = after.split("\n").find((l) => l.includes("the trunk only hears the WAN port")) ?? "";
    expect(/counter packets (\d+)/.exec(line)?.[1], after).toBe("3");
  }, 30_000);

  it("control, wan.guard: none: the same forged INVITE reaches the trunk (the attack this lab reproduces)", async () => {
    await gw.stop();
    expect(lab.exec(net.gatewayHost, "nft", ["list", "tables"])).not.toContain("hikari_gw_guard");
    const before = granted();
    gw.start(t.config({ wanGuard: "none" }));
    await until(() => granted() > before, 30_000, "registered again");
    sendForged("n0");
    await until(heardForged, 5_000, "the forged call heard without the guard");
  }, 60_000);
});
