/**
 * The NGN trunk against the emulator, checking what the gateway SENDS as strictly as docs/ngn.md
 * (test/lab/ngn/rules.ts holds the rules): the outbound INVITE, the inbound 200 and the
 * answers to the NGN's session refreshes (UPDATE without SDP, re-INVITE, UPDATE with SDP) on a
 * call that outlives an unrefreshed RFC 4028 timer, a reliable 183 + 200 without SDP, a second
 * concurrent call refused at the phone with one channel, REGISTER's Expires/Contact and its
 * refresh point, and no method the NGN does not expect. Each check is on the messages seen:
 * the P-CSCF front's log (raw datagrams), SIPp's traces, tshark on the access link.
 * About 2 minutes, most of it the refreshed call (Session-Expires 90, the gateway's minimum).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labReady } from "./env.js";
import { Lab } from "./netns.js";
import type { Ngn, PcscfEvent, SippRun as NgnRun } from "./ngn/emulator.js";
import { NGN_LAB } from "./ngn/addresses.js";
import { ALLOWED_METHODS, allowProblems, answerProblems, outboundInviteProblems, registerProblems, sdpOrigin } from "./ngn/rules.js";
import { credentials, runSipp, type SippResult, type SippRun } from "./sip/sipp.js";
import type { Phone, SipLab } from "./sip/topology.js";
import { find, parseTrace, summarize } from "./sip/trace.js";
import { startAutoAnswerPhone } from "./trunk/baresip-phone.js";
import { TrunkGateway } from "./trunk/gateway-run.js";
import { startRtpCapture, type RtpCaptureResult } from "./trunk/rtp-capture.js";
import { startTrunkLab, stopTrunkLab } from "./trunk/trunk-lab.js";

const ready = labReady("trunk strict lab", ["sipp", "baresip", "dnsmasq", "tshark", "nft", "ss"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The registrar grants this much (s), so the refresh point (40–50 %) shows within the run. */
const GRANT_S = 20;
/** RFC 4028 §10: without a refresh the non-refresher ends the session at SE - min(32, SE/3). */
const SE_S = 90;
const UNREFRESHED_END_MS = (SE_S - Math.min(32, SE_S / 3)) * 1000;
const OUT_DIALLED = "0399990000";
const BUSY_DIALLED = "0399990002";

describe.skipIf(!ready)("NGN trunk: what the gateway sends, as strict as docs/ngn.md", () => {
  let lab: Lab;
  let net: SipLab;
  let ngn: Ngn;
  let dir: string;
  let gw: TrunkGateway;
  let phone: Phone;
  let phone2: Phone;
  let seq = 0;

  const lease = () => NGN_LAB.subnets[0].lease;
  const gwRx = (pred: (e: PcscfEvent) => boolean) => ngn.sipLog.filter((e) => e.ev === "rx" && pred(e));
  const why = () =>
    `--- gateway ---\n${gw.lines.slice(-30).join("\n")}\n--- ngn ---\n${ngn.sipLog
      .slice(-30)
      .map((e) => `${e.ev} ${e.note ?? ""} ${(e.text ?? e.first ?? "").split("\r\n")[0] ?? ""}`)
      .join("\n")}`;

  async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms\n${why()}`);
      await sleep(100);
    }
  }

  function sipp(scenario: string, more: Partial<SippRun> = {}): SippRun {
    return { scenario, host: phone.host, localAddr: phone.addr, remote: `${net.gatewayAddr}:5060`, dir, name: `${++seq}-strict-${scenario.replace(".xml", "")}`, ...more };
  }

  beforeAll(async () => {
    lab = new Lab("hgwtks");
    // The gateway's own register_expires (3600, docs/ngn.md "Registration") and a media timeout longer than a gap.
    const t = await startTrunkLab(lab, {
      dirPrefix: "hgw-trunk-strict-",
      ngn: { grantExpires: GRANT_S, outbound: { reliable183: true, ringMs: 300, answerMs: 500, byeWaitMs: 20_000 } },
      gateway: { registerExpires: null, mediaTimeoutS: 10 },
      sippName: (sc) => `${++seq}-strict-${sc.replace(".xml", "")}`,
    });
    ({ net, phone, phone2, ngn, gw, dir } = t);
    const reg = t.registration;
    expect(reg.code, reg.output).toBe(0);
    await until(() => ngn.sipLog.some((e) => e.note === "200 registered"), 30_000, "registered with the NGN");
  }, 60_000);

  afterAll(async () => {
    await stopTrunkLab(lab, { gw, ngn, dir });
  });

  // ---- one outbound call, answered with a reliable 183 and a 200 without SDP -------------

  interface OutboundEvidence {
    caller: SippResult;
    access: RtpCaptureResult;
    phoneLink: RtpCaptureResult;
  }
  let outbound: Promise<OutboundEvidence> | undefined;
  const outboundCall = () =>
    (outbound ??= (async () => {
      const access = await startRtpCapture(lab, net.gatewayHost, NGN_LAB.wanIf, dir, 25);
      const phoneLink = await startRtpCapture(lab, phone.host, "eth0", dir, 25);
      const caller = await runSipp(lab, sipp("uac-call-rtp.xml", { inf: [credentials("801", phone.password, OUT_DIALLED)], authUri: `${OUT_DIALLED}@${net.gatewayAddr}`, pauseMs: 3000, timeoutS: 20 }));
      return { caller, access: await access.stop(), phoneLink: await phoneLink.stop() };
    })());
  const outboundInvite = () => gwRx((e) => (e.text ?? "").startsWith(`INVITE sip:${OUT_DIALLED}@`))[0];

  it("outbound INVITE: From the line's number, PPI only own numbers, no PAI, Contact lease:5060, 100rel+timer, Session-Expires, one Allow, NGN SDP", async () => {
    const { caller } = await outboundCall();
    const inv = outboundInvite();
    expect(inv, `no INVITE reached the NGN\n${why()}\n${caller.output}`).toBeDefined();
    expect(outboundInviteProblems(inv!.text!, ngn.facts), inv!.text).toEqual([]);
  }, 60_000);

  it("outbound INVITE: Allow lists PRACK (it says Supported: 100rel, RFC 3262 §3) and UPDATE (the NGN's refreshes, RFC 3311)", async () => {
    await outboundCall();
    const inv = outboundInvite();
    expect(inv, why()).toBeDefined();
    expect(allowProblems(inv!.text!), inv!.text).toEqual([]);
  }, 60_000);

  it("outbound, reliable 183 with SDP then 200 without SDP: the gateway PRACKs, the phone gets the answer, RTP flows both ways", async () => {
    const { caller, access, phoneLink } = await outboundCall();
    const inv = outboundInvite();
    expect(inv, why()).toBeDefined();
    const callId = inv!.callId!;
    const invCseq = /^(\d+)/.exec(inv!.cseq ?? "")?.[1];
    const explain = `${why()}\n--- phone ---\n${summarize(caller.messages)}\n${caller.output.slice(-1500)}`;
    // RFC 3262 §7.2: PRACK with RAck = the 183's RSeq (1), the INVITE's CSeq number and method.
    const pracks = gwRx((e) => e.callId === callId && e.method === "PRACK");
    expect(pracks.length, explain).toBeGreaterThanOrEqual(1);
    expect(pracks[0]!.text, explain).toMatch(new RegExp(`^RAck: *1 +${invCseq} +INVITE\\r?$`, "im"));
    // The 200 without SDP was ACKed.
    expect(gwRx((e) => e.callId === callId && e.method === "ACK"), explain).toHaveLength(1);
    expect(caller.code, explain).toBe(0);
    // The phone got the answer: the 200 it received carries SDP with the gateway's media.
    const ok = find(caller.messages, "received", { status: 200, cseq: "INVITE" })[0];
    expect(ok, explain).toBeDefined();
    expect(ok!.body, explain).toMatch(new RegExp(`c=IN IP4 ${net.gatewayAddr.replace(/\./g, "\\.")}`));
    expect(ok!.body, explain).toMatch(/m=audio [1-9]\d* RTP\/AVP/);
    const counts = {
      accessOut: access.count(lease(), NGN_LAB.media, 0),
      accessIn: access.count(NGN_LAB.media, lease(), 0),
      phoneOut: phoneLink.count(phone.addr, net.gatewayAddr, 0),
      phoneIn: phoneLink.count(net.gatewayAddr, phone.addr, 0),
    };
    const flows = `${JSON.stringify(counts)} ${JSON.stringify(access.flows.map((f) => [f.src, f.dst, f.packets]))}`;
    for (const [k, n] of Object.entries(counts)) expect(n, `${k}: ${flows}\n${explain}`).toBeGreaterThan(50);
  }, 60_000);

  // ---- one long inbound call refreshed by the NGN, and a second call while it is up -------

  interface InboundEvidence {
    run: NgnRun;
    callId: string;
    access: RtpCaptureResult;
    busy: SippResult | undefined;
    busyError?: string;
  }
  let inbound: Promise<InboundEvidence> | undefined;
  const inboundCall = () =>
    (inbound ??= (async () => {
      // baresip (802, the additional number's phone) answers at once and talks for the whole call.
      const bare = startAutoAnswerPhone(lab, phone2.host, join(dir, "baresip-802"), { number: "802", password: phone2.password, registrar: net.gatewayAddr, localAddr: phone2.addr }, 115, { toneSeconds: 115 });
      await bare.waitFor(new RegExp(`802@${net.gatewayAddr.replace(/\./g, "\\.")}: \\{0/UDP/v4\\} 200 OK`), 5000);
      const access = await startRtpCapture(lab, net.gatewayHost, NGN_LAB.wanIf, dir, 110);
      const from = ngn.sipLog.length;
      // Refreshes at +15 s (UPDATE), +35 s (re-INVITE), +55 s (UPDATE with SDP); the NGN hangs
      // up at +75 s, past the +60 s where an unrefreshed 90 s timer ends the call.
      const pending = ngn.placeInboundCall({ called: NGN_LAB.additionalNumber, sessionExpires: SE_S, minSe: SE_S, updateAfterMs: 15_000, reinviteAfterMs: 20_000, updateSdpAfterMs: 20_000, byeWaitMs: 20_000 });
      const invite = await ngn.waitForSip((e) => e.ev === "tx" && e.method === "INVITE", 10_000, from);
      const callId = invite.callId!;
      let busy: SippResult | undefined;
      let busyError: string | undefined;
      try {
        await ngn.waitForSip((e) => e.ev === "rx" && e.callId === callId && e.status === 200 && /INVITE/.test(e.cseq ?? ""), 15_000, from);
        await sleep(1000);
        busy = await runSipp(lab, sipp("uac-busy.xml", { inf: [credentials("801", phone.password, BUSY_DIALLED)], authUri: `${BUSY_DIALLED}@${net.gatewayAddr}`, timeoutS: 10 }));
      } catch (e) {
        busyError = (e as Error).message;
      }
      const run = await pending;
      bare.child.kill("SIGTERM");
      await bare.done;
      return { run, callId, access: await access.stop(), busy, busyError };
    })());
  const answers = (callId: string, method: string) => gwRx((e) => e.callId === callId && (e.status ?? 0) >= 200 && new RegExp(` ${method}$`).test(e.cseq ?? ""));

  it("inbound 200: Contact lease:5060, Session-Expires echoed with Require: timer, NGN SDP", async () => {
    const { run, callId } = await inboundCall();
    const ok = answers(callId, "INVITE").find((e) => /^1 /.test(e.cseq ?? ""));
    expect(ok, `no 2xx to the NGN's INVITE\n${why()}\n${run.errors.slice(-1500)}`).toBeDefined();
    expect(ok!.status).toBe(200);
    expect(answerProblems(ok!.text!, lease()), ok!.text).toEqual([]);
  }, 150_000);

  it(`NGN refreshes (UPDATE, re-INVITE, UPDATE with SDP) all get 2xx and the call outlives an unrefreshed ${SE_S} s timer`, async () => {
    const { run, callId, access } = await inboundCall();
    const msgs = parseTrace(run.messages);
    const explain = `${why()}\n--- ngn errors ---\n${run.errors.slice(-2000)}\n--- ngn saw ---\n${summarize(msgs)}`;
    const first = answers(callId, "INVITE").find((e) => /^1 /.test(e.cseq ?? ""));
    expect(first, explain).toBeDefined();
    const origin = sdpOrigin(first!.text ?? "");
    // Each refresh's final answer, by CSeq (inbound-call.xml: UPDATE 3, re-INVITE 4, UPDATE 5).
    const refresh = (cseq: string) => gwRx((e) => e.callId === callId && (e.status ?? 0) >= 200 && e.cseq === cseq)[0];
    const upd = refresh("3 UPDATE");
    const reinv = refresh("4 INVITE");
    const updSdp = refresh("5 UPDATE");
    expect([upd?.first, reinv?.first, updSdp?.first], explain).toEqual(["SIP/2.0 200 OK", "SIP/2.0 200 OK", "SIP/2.0 200 OK"]);
    expect(answerProblems(upd!.text!, lease(), { sdp: false }), upd!.text).toEqual([]);
    for (const r of [reinv!, updSdp!]) {
      expect(answerProblems(r.text!, lease()), r.text).toEqual([]);
      // RFC 3264 §8: the same session (o= id and address); unchanged, so the version stays or +1 at most.
      const o = sdpOrigin(r.text ?? "");
      expect({ id: o?.id, addr: o?.addr }, r.text).toEqual({ id: origin?.id, addr: origin?.addr });
      expect(o!.version - origin!.version, r.text).toBeGreaterThanOrEqual(0);
      expect(o!.version - origin!.version, r.text).toBeLessThanOrEqual(1);
    }
    // The NGN hung up (its BYE got 200), the gateway never did, and not before the
    // unrefreshed timer would have ended the call.
    expect(run.exitCode, explain).toBe(0);
    expect(gwRx((e) => e.callId === callId && e.method === "BYE"), explain).toHaveLength(0);
    const byeOk = gwRx((e) => e.callId === callId && e.status === 200 && / BYE$/.test(e.cseq ?? ""))[0];
    expect(byeOk, explain).toBeDefined();
    expect(byeOk!.t - first!.t, explain).toBeGreaterThan(UNREFRESHED_END_MS);
    // Media ran through the whole call, both ways on the access link (50 packets/s).
    const out = access.count(lease(), NGN_LAB.media, 0);
    const back = access.count(NGN_LAB.media, lease(), 0);
    expect({ out: out > 50 * 60, back: back > 50 * 60 }, `${out} out, ${back} back\n${explain}`).toEqual({ out: true, back: true });
  }, 150_000);

  it("a second outbound call while one is up (channels: 1) gets 486 at the phone and never reaches the NGN", async () => {
    const { busy, busyError } = await inboundCall();
    expect(busyError, why()).toBeUndefined();
    const explain = `${why()}\n--- phone ---\n${summarize(busy!.messages)}\n${busy!.output.slice(-1500)}`;
    expect(find(busy!.messages, "received", 486), explain).toHaveLength(1);
    expect(busy!.code, explain).toBe(0);
    expect(gwRx((e) => (e.text ?? "").startsWith(`INVITE sip:${BUSY_DIALLED}@`)), explain).toHaveLength(0);
  }, 150_000);

  // ---- over the whole run --------------------------------------------------------------

  it(`REGISTER: Expires 3600, Contact lease:5060 without transport=, refreshed at 40–50 % of the granted ${GRANT_S} s`, async () => {
    // At least three refreshes to measure (the calls above already took well over a minute).
    await until(() => ngn.sipLog.filter((e) => e.note === "200 registered").length >= 4, 4 * GRANT_S * 1000, "four registrations");
    const regs = gwRx((e) => e.method === "REGISTER");
    for (const r of regs) expect(registerProblems(r.text!, ngn.facts), r.text).toEqual([]);
    const oks = ngn.sipLog.filter((e) => e.ev === "tx" && e.note === "200 registered");
    const cseqNo = (e: PcscfEvent) => Number(/^(\d+)/.exec(e.cseq ?? "")?.[1]);
    // The refresh of a registration is the next REGISTER of the same Call-ID (RFC 3261 §10.2.4: CSeq + 1).
    const ratios = oks
      .map((ok) => {
        const next = regs.find((r) => r.callId === ok.callId && cseqNo(r) > cseqNo(ok));
        return next ? (next.t - ok.t) / (GRANT_S * 1000) : undefined;
      })
      .filter((x): x is number => x !== undefined);
    expect(ratios.length, why()).toBeGreaterThanOrEqual(3);
    for (const q of ratios) expect(q, `refresh at ${Math.round(q * 100)} % of the granted expiry: ${JSON.stringify(ratios)}`).toBeGreaterThanOrEqual(0.4);
    for (const q of ratios) expect(q, `refresh at ${Math.round(q * 100)} % of the granted expiry: ${JSON.stringify(ratios)}`).toBeLessThanOrEqual(0.5);
  }, 120_000);

  it("the gateway sent the NGN nothing but REGISTER, INVITE, ACK, BYE, CANCEL, PRACK, UPDATE (front log and tshark)", async () => {
    await ngn.stop();
    const allowed: readonly string[] = ALLOWED_METHODS;
    const logged = [...new Set(gwRx((e) => e.method !== undefined).map((e) => e.method!))];
    expect(logged.filter((m) => !allowed.includes(m)), JSON.stringify(logged)).toEqual([]);
    const onWire = [...new Set(ngn.capture.sipMethods(NGN_LAB.pcscf))];
    expect(onWire.filter((m) => !allowed.includes(m)), JSON.stringify(onWire)).toEqual([]);
    expect(onWire).toEqual(expect.arrayContaining(["REGISTER", "INVITE", "ACK", "PRACK", "BYE"]));
    expect(ngn.capture.expertErrors()).toEqual([]);
  }, 60_000);
});
