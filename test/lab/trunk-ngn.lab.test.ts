/**
 * The NGN trunk end to end (issue 5): the built gateway in its namespace with nothing but
 * `wan.interface` for the line, against the strict NGN emulator (dnsmasq + P-CSCF front +
 * SIPp, test/lab/ngn/) on its WAN port and SIPp phones on its LAN. It must take the lease,
 * register as docs/ngn.md says, carry calls both ways (session refresh, reliable 180, missed
 * call, RTP through the relay), BYE the NGN when a phone vanishes, recover from a registrar
 * outage, follow a lease change, and never send OPTIONS.
 */
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labReady } from "./env.js";
import { Lab } from "./netns.js";
import type { Ngn } from "./ngn/emulator.js";
import { NGN_LAB } from "./ngn/addresses.js";
import { ALLOWED_METHODS } from "./ngn/rules.js";
import { startCapture } from "./sip/capture.js";
import { CLI } from "./sip/gateway-process.js";
import { credentials, runSipp, startSipp, type SippRun } from "./sip/sipp.js";
import type { Phone, SipLab } from "./sip/topology.js";
import { find, header, parseTrace, readTrace, summarize, userOf } from "./sip/trace.js";
import { SCENARIOS } from "./sip/sipp.js";
import { startAutoAnswerPhone } from "./trunk/baresip-phone.js";
import { TrunkGateway } from "./trunk/gateway-run.js";
import { startRtpCapture } from "./trunk/rtp-capture.js";
import { startTrunkLab, type TrunkLab, stopTrunkLab } from "./trunk/trunk-lab.js";

const TRUNK_DIR = join(dirname(fileURLToPath(import.meta.url)), "trunk");
const TRUNK_SCENARIOS = join(TRUNK_DIR, "scenarios");
const ready = labReady("trunk lab", ["sipp", "baresip", "dnsmasq", "tshark", "nft", "ss"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!ready)("NGN trunk against the emulator", () => {
  let lab: Lab;
  let net: SipLab;
  let ngn: Ngn;
  let dir: string;
  let gw: TrunkGateway;
  let phone: Phone;
  let phone2: Phone;
  let seq = 0;

  let gatewayConfig: TrunkLab["config"];
  const gwLog = () => (gw?.lines ?? []).slice(-40).join("\n");
  const ngnNotes = () =>
    ngn.sipLog
      .slice(-30)
      .map((e) => `${e.ev} ${e.note ?? ""} ${(e.text ?? "").split("\r\n")[0] ?? ""}`)
      .join("\n");
  const why = () => `--- gateway ---\n${gwLog()}\n--- ngn ---\n${ngnNotes()}\n--- dhcp server ---\n${ngn.dhcpLog.slice(-20).join("\n")}`;

  async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms\n${why()}`);
      await sleep(100);
    }
  }

  const registeredFrom = (addr: string) => ngn.sipLog.some((e) => e.note === "200 registered" && (e.peer ?? "").startsWith(`${addr}:`));

  function sipp(scenario: string, more: Partial<SippRun> = {}): SippRun {
    return { scenario, host: phone.host, localAddr: phone.addr, remote: `${net.gatewayAddr}:5060`, dir, name: `${++seq}-trunk-${scenario.replace(".xml", "")}`, ...more };
  }

  beforeAll(async () => {
    lab = new Lab("hgwtrk");
    const t = await startTrunkLab(lab, { dirPrefix: "hgw-trunk-lab-", sippName: (sc) => `${++seq}-trunk-${sc.replace(".xml", "")}` });
    ({ net, phone, phone2, ngn, gw, dir } = t);
    gatewayConfig = t.config;
    const reg = t.registration;
    expect(reg.code, `phone registration\n${why()}`).toBe(0);
  }, 60_000);

  afterAll(async () => {
    // The last test stops the gateway itself (exit code checked); stop() is a no-op then.
    await stopTrunkLab(lab, { gw, ngn, dir });
  });

  it("comes up from nothing but wan.interface: lease, then REGISTER as the NGN wants it", async () => {
    await until(() => registeredFrom(NGN_LAB.subnets[0].lease), 30_000, "registered from the lease address");
    const reg = ngn.sipLog.find((e) => e.ev === "rx" && (e.text ?? "").startsWith("REGISTER"))!;
    const text = reg.text!;
    expect(text.split("\r\n")[0]).toBe(`REGISTER sip:${NGN_LAB.domain} SIP/2.0`);
    expect(text).not.toMatch(/rport/i);
    expect(text).toMatch(new RegExp(`<sip:${NGN_LAB.mainNumber}@${NGN_LAB.subnets[0].lease.replace(/\./g, "\\.")}:5060>`));
    expect(reg.peer).toBe(`${NGN_LAB.subnets[0].lease}:5060`);
    const status = JSON.parse(lab.exec(net.gatewayHost, process.execPath, [CLI, "status", "--config", gw.cfgFile, "--json"])) as { trunk: { state: string; number: string; domain: string; server: string } };
    expect(status.trunk).toMatchObject({ state: "registered", number: NGN_LAB.mainNumber, domain: NGN_LAB.domain, server: NGN_LAB.pcscf });
    // Option 121's route, no default route (docs/ngn.md "DHCP").
    const routes = lab.exec(net.gatewayHost, "ip", ["route"]);
    expect(routes).toContain(`${NGN_LAB.ngnPrefix} via ${NGN_LAB.subnets[0].peer}`);
    expect(routes).not.toMatch(/^default/m);
  }, 40_000);

  it("inbound call rings the phone with the caller's number; answered; the UPDATE refresh is answered; the NGN hangs up", async () => {
    const callee = startSipp(lab, sipp("uas-answer.xml", { service: "801", timeoutS: 30, extra: ["-mi", phone.addr, "-mp", "6000", "-rtp_echo"] }));
    await sleep(300);
    const run = await ngn.placeInboundCall({ updateAfterMs: 1500, byeWaitMs: 2500 });
    const p = await callee.done;
    const explain = `${why()}\n--- ngn errors ---\n${run.errors.slice(-2000)}\n--- phone ---\n${p.output.slice(-1500)}`;
    expect(run.exitCode, explain).toBe(0);
    expect(p.code, explain).toBe(0);
    const inv = find(p.messages, "received", "INVITE")[0]!;
    expect(userOf(header(inv, "from")), explain).toBe(NGN_LAB.callerNumber);
    expect(inv.body, explain).toContain(`c=IN IP4 ${net.gatewayAddr}`);
    expect(find(p.messages, "received", "UPDATE"), "the refresh must not reach the phone").toHaveLength(0);
    // What the NGN got: a reliable 180 it PRACKed, and a 200 with the session timer.
    expect(run.messages).toMatch(/SIP\/2\.0 180[\s\S]*?RSeq:/i);
    expect(run.messages).toMatch(/SIP\/2\.0 200 OK[\s\S]*?Session-Expires: 300;refresher=uac/i);
  }, 60_000);

  it("a missed call: the NGN cancels while the phone rings", async () => {
    const callee = startSipp(lab, sipp("uas-ring.xml", { service: "801", timeoutS: 20 }));
    await sleep(300);
    const run = await ngn.placeMissedCall({ ringMs: 1500 });
    const p = await callee.done;
    expect(run.exitCode, `${why()}\n${run.errors}`).toBe(0);
    expect(p.code, p.output).toBe(0);
    expect(find(p.messages, "received", "CANCEL")).toHaveLength(1);
    await until(() => gw.lines.some((l) => l.includes('"type":"missed"') || (l.includes("call ended") && l.includes("cancelled"))), 5000, "missed call logged");
  }, 40_000);

  it("outbound call reaches the NGN with the line's identity, PCMU on an even port; RTP flows both ways through the relay", async () => {
    const cap = await startCapture(lab, phone.host, "eth0", dir, 25);
    const caller = await runSipp(lab, sipp("uac-call-rtp.xml", { inf: [credentials("801", phone.password, "0399990000")], authUri: `0399990000@${net.gatewayAddr}`, pauseMs: 3000, timeoutS: 25 }));
    const flows = await cap.stop();
    const explain = `${why()}\n--- phone ---\n${caller.output.slice(-1500)}`;
    expect(caller.code, explain).toBe(0);
    const inv = ngn.sipLog.find((e) => e.ev === "rx" && (e.text ?? "").startsWith("INVITE sip:0399990000"))!;
    expect(inv, explain).toBeDefined();
    const text = inv.text!;
    expect(text.split("\r\n")[0]).toBe(`INVITE sip:0399990000@${NGN_LAB.pcscf}:5060 SIP/2.0`);
    expect(text).toMatch(new RegExp(`From: <sip:${NGN_LAB.mainNumber}@${NGN_LAB.domain.replace(/\./g, "\\.")}>`, "i"));
    expect(text).toMatch(/Supported: 100rel, timer/i);
    expect(text).not.toMatch(/rport/);
    const port = Number(/m=audio (\d+) RTP\/AVP 0( 101)?\r\n/.exec(text)?.[1]);
    expect(port % 2, "even RTP port").toBe(0);
    expect((text.match(/^c=/gm) ?? []).length).toBe(1);
    expect(text).toContain(`c=IN IP4 ${NGN_LAB.subnets[0].lease}`);
    // The phone's tone went out through the relay and the NGN's echo came back to it.
    const back = flows.filter((f) => f.src.startsWith(`${net.gatewayAddr}:`) && f.dst.startsWith(`${phone.addr}:`)).reduce((n, f) => n + f.packets, 0);
    expect(back, `RTP echoed back through the relay\n${JSON.stringify(flows)}`).toBeGreaterThan(50);
    await until(() => ngn.sipLog.some((e) => e.ev === "rx" && (e.text ?? "").startsWith("BYE")), 5000, "BYE to the NGN");
  }, 60_000);

  it("a phone that vanishes mid-call (no media, no BYE) still ends with a BYE to the NGN", async () => {
    const callee = startSipp(lab, sipp("uas-answer.xml", { service: "801", timeoutS: 8 }));
    await sleep(300);
    const byesBefore = ngn.sipLog.filter((e) => e.ev === "rx" && (e.text ?? "").startsWith("BYE")).length;
    const pending = ngn.placeInboundCall({ updateAfterMs: 1000, byeWaitMs: 20_000 });
    // The phone answers, then is gone: SIPp times out and exits without a BYE.
    await callee.done;
    const run = await pending;
    expect(run.exitCode, `${why()}\n${run.errors.slice(-1500)}`).toBe(0);
    expect(ngn.sipLog.filter((e) => e.ev === "rx" && (e.text ?? "").startsWith("BYE")).length).toBe(byesBefore + 1);
    expect(gw.lines.some((l) => l.includes("media timeout"))).toBe(true);
  }, 60_000);

  /** The NGN's SIPp trace of one inbound call: which BYE it received or sent. */
  const ngnByes = (messages: string) => {
    const msgs = parseTrace(messages);
    return { received: find(msgs, "received", "BYE").length, sent: find(msgs, "sent", "BYE").length };
  };

  it("inbound call rings a SIPp phone and a baresip phone in parallel; baresip answers, SIPp gets CANCEL; RTP both ways through the relay; baresip hangs up and the NGN gets BYE", async () => {
    const lease = NGN_LAB.subnets[0].lease;
    const access = await startRtpCapture(lab, net.gatewayHost, NGN_LAB.wanIf, dir, 30);
    const phoneLink = await startRtpCapture(lab, phone2.host, "eth0", dir, 30);
    const ringer = startSipp(lab, sipp("uas-ring.xml", { service: "801", timeoutS: 20 }));
    // baresip answers at once (answermode=auto) and quits after 8 s, hanging up with BYE.
    const bare = startAutoAnswerPhone(lab, phone2.host, join(dir, "baresip-802"), { number: "802", password: phone2.password, registrar: net.gatewayAddr, localAddr: phone2.addr }, 8);
    await bare.waitFor(/802@198\.18\.2\.1: \{0\/UDP\/v4\} 200 OK/, 5000);
    const run = await ngn.placeInboundCall({ updateAfterMs: 1500, byeWaitMs: 20_000 });
    const b = await bare.done;
    const ring = await ringer.done;
    const onAccess = await access.stop();
    const onPhone = await phoneLink.stop();
    const explain = `${why()}\n--- ngn errors ---\n${run.errors.slice(-1500)}\n--- ngn saw ---\n${summarize(parseTrace(run.messages))}\n--- baresip ---\n${b.output.slice(-2500)}\n--- 801 ---\n${ring.output.slice(-1000)}`;
    expect(run.exitCode, explain).toBe(0);
    expect(b.output, explain).toMatch(/Call established/);
    // Both rang; the one that did not answer was cancelled (RFC 3261 §16.7 step 10, as a B2BUA).
    expect(ring.code, explain).toBe(0);
    expect(find(ring.messages, "received", "INVITE"), explain).toHaveLength(1);
    expect(find(ring.messages, "received", "CANCEL"), explain).toHaveLength(1);
    expect(userOf(header(find(ring.messages, "received", "INVITE")[0]!, "from"))).toBe(NGN_LAB.callerNumber);
    // The phone hung up: the NGN received the BYE and never had to send its own.
    expect(ngnByes(run.messages), explain).toEqual({ received: 1, sent: 0 });
    // Media: baresip's tone went out on the access link and the NGN's echo came back, both
    // through the relay (the phone only ever talks to the gateway's LAN address).
    const counts = {
      accessOut: onAccess.count(lease, NGN_LAB.media, 0),
      accessIn: onAccess.count(NGN_LAB.media, lease, 0),
      phoneOut: onPhone.count(phone2.addr, net.gatewayAddr, 0),
      phoneIn: onPhone.count(net.gatewayAddr, phone2.addr, 0),
    };
    const flows = `${JSON.stringify(counts)}\n${JSON.stringify(onAccess.flows.map((f) => [f.src, f.dst, f.packets]))}`;
    for (const [k, n] of Object.entries(counts)) expect(n, `${k}: ${flows}`).toBeGreaterThan(100);
  }, 60_000);

  it("inbound call: the phone hangs up, and the BYE reaches the NGN", async () => {
    const callee = startSipp(lab, sipp("uas-answer-bye.xml", { service: "801", pauseMs: 1500, timeoutS: 20 }));
    await sleep(300);
    const run = await ngn.placeInboundCall({ updateAfterMs: 0, byeWaitMs: 15_000 });
    const p = await callee.done;
    const explain = `${why()}\n--- ngn errors ---\n${run.errors.slice(-1500)}\n--- ngn saw ---\n${summarize(parseTrace(run.messages))}\n--- phone ---\n${p.output.slice(-1500)}`;
    expect(run.exitCode, explain).toBe(0);
    expect(p.code, explain).toBe(0);
    expect(find(p.messages, "received", { status: 200, cseq: "BYE" }), explain).toHaveLength(1);
    expect(ngnByes(run.messages), explain).toEqual({ received: 1, sent: 0 });
    // The BYE the NGN got is in the NGN's dialog: its Call-ID and our To-tag from the 200.
    const ngnMsgs = parseTrace(run.messages);
    const bye = find(ngnMsgs, "received", "BYE")[0]!;
    const ok = find(ngnMsgs, "received", { status: 200, cseq: "INVITE" })[0]!;
    expect(header(bye, "call-id")).toBe(header(ok, "call-id"));
    expect(header(bye, "from")).toBe(header(ok, "to"));
  }, 40_000);

  it("a withheld caller shows as anonymous on the phone", async () => {
    const callee = startSipp(lab, sipp("uas-answer.xml", { service: "801", timeoutS: 20 }));
    await sleep(300);
    const run = await ngn.placeInboundCall({ anonymous: true, updateAfterMs: 0, byeWaitMs: 1000 });
    const p = await callee.done;
    const explain = `${why()}\n--- ngn errors ---\n${run.errors.slice(-1500)}\n--- ngn saw ---\n${summarize(parseTrace(run.messages))}\n--- phone ---\n${p.output.slice(-1500)}`;
    expect(run.exitCode, explain).toBe(0);
    expect(p.code, explain).toBe(0);
    const inv = find(p.messages, "received", "INVITE")[0]!;
    expect(userOf(header(inv, "from")), explain).toBe("anonymous");
    expect(inv.raw, "the caller's number must not leak to the phone").not.toContain(NGN_LAB.callerNumber);
  }, 40_000);

  it("a call to the additional number rings whom inbound.numbers names for it (802), not inbound.ring", async () => {
    const reg = await runSipp(lab, { ...sipp("reg.xml", { inf: [credentials("802", phone2.password)], keys: { expires: "300" }, authUri: net.gatewayAddr, timeoutS: 10 }), host: phone2.host, localAddr: phone2.addr });
    expect(reg.code, reg.output).toBe(0);
    const callee = startSipp(lab, { ...sipp("uas-answer.xml", { service: "802", timeoutS: 20 }), host: phone2.host, localAddr: phone2.addr });
    // 801 is registered too and would answer: it must not even ring.
    const other = startSipp(lab, sipp("uas-answer.xml", { service: "801", timeoutS: 20 }));
    await sleep(300);
    const run = await ngn.placeInboundCall({ called: NGN_LAB.additionalNumber, updateAfterMs: 0, byeWaitMs: 1000 });
    const p = await callee.done;
    other.child.kill("SIGTERM");
    const o = await other.done;
    const unreg = await runSipp(lab, { ...sipp("reg.xml", { inf: [credentials("802", phone2.password)], keys: { expires: "0" }, authUri: net.gatewayAddr, timeoutS: 10 }), host: phone2.host, localAddr: phone2.addr });
    const explain = `${why()}\n--- ngn errors ---\n${run.errors.slice(-1500)}\n--- ngn saw ---\n${summarize(parseTrace(run.messages))}\n--- 802 ---\n${p.output.slice(-1500)}`;
    expect(run.exitCode, explain).toBe(0);
    expect(p.code, explain).toBe(0);
    const inv = find(p.messages, "received", "INVITE")[0]!;
    expect(userOf(header(inv, "from")), explain).toBe(NGN_LAB.callerNumber);
    expect(find(o.messages, "received", "INVITE"), "801 must not ring for the additional number").toHaveLength(0);
    expect(gw.lines.some((l) => l.includes("incoming call from the line") && l.includes(`"to":"${NGN_LAB.additionalNumber}"`) && l.includes('"ring":["802"]')), explain).toBe(true);
    const ringing = gw.lines.filter((l) => l.includes('"msg":"call ringing out"') && l.includes(`"to":"${NGN_LAB.additionalNumber}"`));
    expect(ringing, explain).toHaveLength(1);
    expect((JSON.parse(ringing[0]!) as { targets: string[] }).targets.map((t) => t.split(" ")[0])).toEqual(["802"]);
    expect(unreg.code, unreg.output).toBe(0);
  }, 60_000);

  it("a call to a number whose phones are not registered is refused with 480", async () => {
    // The additional number rings 802 alone, and 802 unregistered at the end of the last test.
    const run = await ngn.placeRejectedCall({ called: NGN_LAB.additionalNumber, status: 480 });
    const explain = `${why()}\n--- ngn errors ---\n${run.errors.slice(-1500)}\n--- ngn saw ---\n${summarize(parseTrace(run.messages))}`;
    expect(run.exitCode, explain).toBe(0);
    const msgs = parseTrace(run.messages);
    expect(find(msgs, "received", 480), explain).toHaveLength(1);
    expect(find(msgs, "received", 180), "nothing rang").toHaveLength(0);
    // The gateway's own account of it (the MQTT event maps this to "missed", call.ts).
    await until(() => gw.lines.some((l) => l.includes('"msg":"call failed"') && l.includes('"status":480')), 5000, "the refusal logged");
  }, 30_000);

  it("outbound call carries the phone's RFC 4733 DTMF (PT 101) to the NGN, and the NGN's echo back", async () => {
    const lease = NGN_LAB.subnets[0].lease;
    const rtpPort = 6100;
    const access = await startRtpCapture(lab, net.gatewayHost, NGN_LAB.wanIf, dir, 25);
    const name = `${++seq}-trunk-uac-call-dtmf`;
    const call = startSipp(lab, {
      ...sipp(relative(SCENARIOS, join(TRUNK_SCENARIOS, "uac-call-dtmf.xml")), { inf: [credentials("801", phone.password, "0399990001")], authUri: `0399990001@${net.gatewayAddr}`, pauseMs: 3500, timeoutS: 25 }),
      keys: { rtp_port: String(rtpPort) },
      name,
    });
    // The gateway's port for the phone is in the 200's SDP: read it from SIPp's live trace.
    let target = "";
    await until(() => {
      const ok = find(readTrace(join(dir, `${name}.messages.log`)), "received", { status: 200, cseq: "INVITE" })[0];
      const m = ok && /c=IN IP4 (\S+)[\s\S]*m=audio (\d+) /.exec(ok.body);
      if (m) target = `${m[1]}:${m[2]}`;
      return target !== "";
    }, 10_000, "the 200 with the gateway's SDP");
    const sender = lab.spawn(phone.host, process.execPath, [join(TRUNK_DIR, "rtp-dtmf-sender.mjs"), JSON.stringify({ bind: phone.addr, port: rtpPort, to: target, digits: "123" })]);
    let report = "";
    sender.stdout?.on("data", (d: Buffer) => (report += d.toString()));
    const senderCode = await new Promise<number | null>((r) => sender.once("exit", r));
    const caller = await call.done;
    const cap = await access.stop();
    const explain = `${why()}\n--- phone ---\n${caller.output.slice(-1500)}\n--- sender ---\n${report}\n--- access ---\n${JSON.stringify(cap.flows.map((f) => [f.src, f.dst, [...f.byPt]]))}`;
    expect(caller.code, explain).toBe(0);
    expect(senderCode, explain).toBe(0);
    const inv = ngn.sipLog.find((e) => e.ev === "rx" && (e.text ?? "").startsWith("INVITE sip:0399990001"));
    expect(inv, explain).toBeDefined();
    // The offer to the NGN keeps telephone-event beside PCMU (docs/ngn.md "Media").
    expect(inv!.text).toMatch(/m=audio \d*[02468] RTP\/AVP 0 101\r\n/);
    expect(inv!.text).toMatch(/a=rtpmap:101 telephone-event\/8000/i);
    // Digits 1, 2, 3 left the gateway as PT 101 events (three end packets each, RFC 4733
    // §2.5.1.4), besides the PCMU audio, and the NGN's echo of them came back in.
    expect(cap.digits(lease, NGN_LAB.media), explain).toEqual([1, 2, 3]);
    expect(cap.count(lease, NGN_LAB.media, 101), explain).toBe(3 * (5 + 3));
    expect(cap.events.filter((e) => e.src.startsWith(`${lease}:`) && e.end), explain).toHaveLength(9);
    expect(cap.count(lease, NGN_LAB.media, 0), explain).toBeGreaterThan(30);
    expect(cap.digits(NGN_LAB.media, lease), explain).toEqual([1, 2, 3]);
    // ... and the relay handed the echo to the phone.
    const got = JSON.parse(report) as { sent: { audio: number; events: number }; received: Record<string, number> };
    expect(got.sent.events).toBe(24);
    expect(got.received["101"] ?? 0, explain).toBeGreaterThanOrEqual(20);
  }, 60_000);

  it("recovers after the NGN's registrar failed: backs off, then registers again", async () => {
    const before = ngn.sipLog.filter((e) => e.note === "200 registered").length;
    ngn.registrar.stop("503");
    // register_expires 60 → refresh at 45 %: about 27 s after the last registration.
    await until(() => ngn.sipLog.some((e) => e.note === "503 registrar"), 45_000, "a refresh meets the outage");
    await until(() => gw.lines.some((l) => l.includes("trunk registration failed")), 5000, "the gateway notices");
    ngn.registrar.start();
    await until(() => ngn.sipLog.filter((e) => e.note === "200 registered").length > before, 30_000, "registered again");
  }, 90_000);

  it("follows a lease change: new address, re-registers from it", async () => {
    await ngn.changeLease();
    const next = NGN_LAB.subnets[1].lease;
    // The next RENEW (at T1 = 60 s) gets a NAK; DISCOVER gives the new /30.
    await until(() => registeredFrom(next), 140_000, `registered from ${next}`);
    const addrs = lab.exec(net.gatewayHost, "ip", ["-4", "addr", "show", "dev", NGN_LAB.wanIf]);
    expect(addrs).toContain(`${next}/30`);
    expect(addrs).not.toContain(`${NGN_LAB.subnets[0].lease}/30`);
  }, 150_000);

  it("with pbx.dnd (a second gateway run) a call from the line gets 486 and no phone rings", async () => {
    const regs = ngn.sipLog.filter((e) => e.note === "200 registered").length;
    expect(await gw.stop(), "the gateway exits cleanly on SIGTERM").toBe(0);
    gw.start(gatewayConfig({ dnd: true }));
    await until(() => ngn.sipLog.filter((e) => e.note === "200 registered").length > regs, 30_000, "registered again after the restart");
    const reg = await runSipp(lab, sipp("reg.xml", { inf: [credentials("801", phone.password)], keys: { expires: "3600" }, authUri: net.gatewayAddr, timeoutS: 15 }));
    expect(reg.code, reg.output).toBe(0);
    const ringer = startSipp(lab, sipp("uas-ring.xml", { service: "801", timeoutS: 20 }));
    await sleep(300);
    const run = await ngn.placeRejectedCall({ status: 486 });
    ringer.child.kill("SIGTERM");
    const r = await ringer.done;
    const explain = `${why()}\n--- ngn errors ---\n${run.errors.slice(-1500)}\n--- ngn saw ---\n${summarize(parseTrace(run.messages))}`;
    expect(run.exitCode, explain).toBe(0);
    expect(find(parseTrace(run.messages), "received", 486), explain).toHaveLength(1);
    expect(find(r.messages, "received", "INVITE"), "DND: the phone must not ring").toHaveLength(0);
    expect(gw.lines.some((l) => l.includes('"msg":"call failed"') && l.includes('"status":486')), explain).toBe(true);
  }, 60_000);

  it("never sent OPTIONS or any method but REGISTER, INVITE, ACK, BYE, CANCEL, PRACK, UPDATE; every message on the access link dissects cleanly", async () => {
    await ngn.stop();
    expect(ngn.capture.sipMethods(NGN_LAB.pcscf)).not.toContain("OPTIONS");
    // In or out of a dialog: the capture (tshark) and the front's own log agree.
    const allowed: readonly string[] = ALLOWED_METHODS;
    const onWire = [...new Set(ngn.capture.sipMethods(NGN_LAB.pcscf))];
    expect(onWire.filter((m) => !allowed.includes(m)), JSON.stringify(onWire)).toEqual([]);
    const logged = [...new Set(ngn.requestsFromGateway().map((e) => e.method!))];
    expect(logged.filter((m) => !allowed.includes(m)), JSON.stringify(logged)).toEqual([]);
    expect(ngn.capture.sipMethods(NGN_LAB.pcscf)).toContain("REGISTER");
    expect(ngn.capture.expertErrors()).toEqual([]);
  }, 90_000);
});
