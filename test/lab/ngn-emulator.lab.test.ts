/**
 * Self-test of the NGN emulator (test/lab/ngn/): before the trunk is tested against it, prove
 * that each strict rule of docs/ngn.md fires, that the DHCP side hands out options 120/121/125 as a
 * line does, and that the call scenarios talk to a well-behaved gateway. The "gateway" here is
 * a raw UDP probe (for crafted, misbehaving messages) and SIPp (for whole dialogs), in host
 * "wan" on the other end of the access link.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Lab } from "./netns.js";
import { labReady } from "./env.js";
import { NGN_LAB } from "./ngn/addresses.js";
import { startNgn, type Ngn } from "./ngn/emulator.js";
import { dnsWireHex } from "./ngn/dnsmasq-config.js";
import { renderScenario, writeScenario } from "./ngn/scenario-template.js";
import { allowProblems, answerProblems, outboundInviteProblems, registerProblems, sdpProblems, type LineFacts } from "./ngn/rules.js";

const execFileP = promisify(execFile);
const NGN_DIR = join(import.meta.dirname, "ngn");
const ready = labReady("ngn-emulator", ["sipp", "dnsmasq", "tshark", "ss"]);
const GW = NGN_LAB.subnets[0].lease;
const PCSCF = `${NGN_LAB.pcscf}:${NGN_LAB.sipPort}`;
const AOR = `sip:${NGN_LAB.mainNumber}@${NGN_LAB.domain}`;

interface ProbeReply {
  status: number | null;
  first: string;
  text: string;
}

let seq = 0;
/** A REGISTER as docs/ngn.md's proven form, with one thing changed by `tweak`. */
function register(o: { ruri?: string; via?: string; port?: number; expires?: number } = {}): string {
  const n = ++seq;
  return [
    `REGISTER ${o.ruri ?? `sip:${NGN_LAB.domain}`} SIP/2.0`,
    o.via ?? `Via: SIP/2.0/UDP ${GW}:${o.port ?? 5060};branch=z9hG4bK-st${n}`,
    "Max-Forwards: 70",
    `From: <${AOR}>;tag=st${n}`,
    `To: <${AOR}>`,
    "Call-ID: selftest-reg@198.18.4.2",
    `CSeq: ${n} REGISTER`,
    `Contact: <sip:${NGN_LAB.mainNumber}@${GW}:5060>`,
    `Expires: ${o.expires ?? 3600}`,
    "l: 0",
    "",
    "",
  ].join("\n");
}

function invite(o: { ruri?: string; sdp?: string[] } = {}): string {
  const n = ++seq;
  const sdp = o.sdp ?? [`c=IN IP4 ${GW}`, "t=0 0", "m=audio 50000 RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000"];
  return [
    `INVITE ${o.ruri ?? `sip:0311112222@${PCSCF}`} SIP/2.0`,
    `Via: SIP/2.0/UDP ${GW}:5060;branch=z9hG4bK-inv${n}`,
    "Max-Forwards: 70",
    `From: <${AOR}>;tag=inv${n}`,
    `To: <sip:0311112222@${NGN_LAB.domain}>`,
    `Call-ID: selftest-inv${n}@198.18.4.2`,
    "CSeq: 1 INVITE",
    `Contact: <sip:${NGN_LAB.mainNumber}@${GW}:5060>`,
    "Supported: 100rel, timer",
    "Content-Type: application/sdp",
    "l: auto",
    "",
    ["v=0", `o=- 1 1 IN IP4 ${GW}`, "s=-", ...sdp, ""].join("\n"),
  ].join("\n");
}

describe.skipIf(!ready)("NGN emulator (self-test)", () => {
  const lab = new Lab(NGN_LAB.prefix);
  let ngn: Ngn;

  /**
   * Run the raw probe in the gateway's host from `port` and return what came back. Async (not
   * lab.exec) so the emulator's logs keep flowing into ngn.sipLog while it runs.
   */
  async function probe(messages: string[], port = 5060, waitMs = 3000): Promise<ProbeReply[]> {
    const { stdout: out } = await execFileP("ip", ["netns", "exec", lab.ns("wan"), process.execPath, join(NGN_DIR, "udp-probe.mjs"), JSON.stringify({ bind: GW, port, to: PCSCF, messages, waitMs })], { timeout: waitMs * messages.length + 5000 });
    return out
      .split("\n")
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as ProbeReply);
  }
  const finals = (r: ProbeReply[]) => r.filter((x) => x.status !== null && x.status >= 200).map((x) => x.status);

  beforeAll(async () => {
    lab.addHost("wan");
    ngn = await startNgn(lab, { wanHost: "wan" });
  }, 60_000);

  afterAll(async () => {
    await ngn?.stop();
    await lab.destroy();
    ngn?.removeFiles();
  });

  it("fills scenario templates and refuses a missing value", () => {
    expect(renderScenario("a {{x}}\n  <!--{{#s}}-->P-A: {{x}}<!--{{/s}}-->\nb", { x: 5, s: true })).toBe("a 5\n  P-A: 5\nb");
    // A dropped header line must not leave an empty line: that would end the SIP headers.
    expect(renderScenario("h1\n      <!--{{#s}}-->P-A: x<!--{{/s}}-->\nh2", { s: false })).toBe("h1\nh2");
    expect(() => renderScenario("{{nope}}", {})).toThrow(/nope/);
    expect(dnsWireHex("ntt-east.ne.jp")).toBe("08:6e:74:74:2d:65:61:73:74:02:6e:65:02:6a:70:00");
  });

  it("hands out a /30 with options 3, 120 (IPv4 encoding), 121 and 125 (enterprise 210), and no DNS", async () => {
    // No address on wan0 yet, as on a gateway's first boot: a host route lets the probe broadcast.
    lab.exec("wan", "ip", ["route", "add", "255.255.255.255/32", "dev", NGN_LAB.wanIf]);
    let out: string;
    try {
      out = lab.exec("wan", process.execPath, [join(NGN_DIR, "dhcp-probe.mjs"), NGN_LAB.wanMac, "6000"], { timeoutMs: 10_000 });
    } finally {
      // From here on the gateway's host has the lease and option 121's route, set by hand.
      lab.exec("wan", "ip", ["route", "del", "255.255.255.255/32", "dev", NGN_LAB.wanIf]);
      lab.exec("wan", "ip", ["addr", "add", `${GW}/30`, "dev", NGN_LAB.wanIf]);
      lab.exec("wan", "ip", ["route", "add", NGN_LAB.ngnPrefix, "via", NGN_LAB.subnets[0].peer]);
    }
    const offer = JSON.parse(out) as { yiaddr: string; options: Record<string, string> };
    expect(offer.yiaddr).toBe(NGN_LAB.subnets[0].lease);
    expect(offer.options["1"]).toBe("fffffffc"); // /30
    expect(offer.options["3"]).toBe("c6120401"); // router 198.18.4.1
    expect(offer.options["120"]).toBe("01c6120501"); // RFC 3361: encoding 1, 198.18.5.1
    expect(offer.options["121"]).toBe("18c61205c6120401"); // RFC 3442: 198.18.5.0/24 via 198.18.4.1
    expect(offer.options["6"]).toBeUndefined(); // no DNS
    const hex = offer.options["125"];
    expect(hex).toContain(Buffer.from(NGN_LAB.mainNumber).toString("hex"));
    expect(hex).toContain(Buffer.from(NGN_LAB.additionalNumber).toString("hex"));
    expect(hex).toContain(dnsWireHex(NGN_LAB.domain).replaceAll(":", ""));
    expect(hex).toContain(NGN_LAB.wanMac.replaceAll(":", ""));
    await new Promise((r) => setTimeout(r, 200)); // dnsmasq's log lines reach us through the event loop
    expect(ngn.dhcpLog.some((l) => /DHCPOFFER\(ngn0\) 198\.18\.4\.2/.test(l))).toBe(true);

  });

  it("registrar: 400 for rport or a wrong Request-URI, 403 from port 5070, 200 with Expires in compact form", async () => {
    expect(finals(await probe([register({ via: `Via: SIP/2.0/UDP ${GW}:5060;rport;branch=z9hG4bK-rp` })]))).toEqual([400]);
    expect(finals(await probe([register({ ruri: `sip:${NGN_LAB.pcscf}` })]))).toEqual([400]);
    expect(finals(await probe([register({ port: 5070 })], 5070))).toEqual([403]);
    expect(ngn.binding()).toBeUndefined();

    const ok = await probe([register({ expires: 7200 })]);
    expect(finals(ok)).toEqual([200]);
    const text = ok.find((r) => r.status === 200)!.text;
    expect(text).toMatch(/^Expires: 3600\r$/m); // capped at the server's maximum
    expect(text).toMatch(/^m: <sip:0312345678@198\.18\.4\.2:5060>;expires=3600\r$/m);
    for (const h of ["v", "f", "t", "i", "l"]) expect(text).toMatch(new RegExp(`^${h}: `, "m"));
    expect(text).not.toMatch(/^(Via|From|To|Call-ID|Contact):/m);
    expect(ngn.binding()?.contact).toBe(`sip:${NGN_LAB.mainNumber}@${GW}:5060`);
    expect(ngn.sipLog.filter((e) => e.note).map((e) => e.note)).toEqual(["400 rport", "400 request-uri", "403 source port", "200 registered"]);
  });

  it("answers OPTIONS with 405", async () => {
    const opt = [`OPTIONS sip:${NGN_LAB.domain} SIP/2.0`, `Via: SIP/2.0/UDP ${GW}:5060;branch=z9hG4bK-opt`, `From: <${AOR}>;tag=o1`, `To: <sip:${NGN_LAB.domain}>`, "Call-ID: selftest-opt", "CSeq: 1 OPTIONS", "l: 0", "", ""].join("\n");
    expect(finals(await probe([opt]))).toEqual([405]);
    expect(ngn.requestsFromGateway("OPTIONS")).toHaveLength(1);
  });

  it("answers any method a gateway should not send the NGN (here MESSAGE) with 405, and logs why", async () => {
    const msg = [`MESSAGE sip:0311112222@${NGN_LAB.domain} SIP/2.0`, `Via: SIP/2.0/UDP ${GW}:5060;branch=z9hG4bK-msg`, `From: <${AOR}>;tag=m1`, `To: <sip:0311112222@${NGN_LAB.domain}>`, "Call-ID: selftest-msg", "CSeq: 1 MESSAGE", "l: 0", "", ""].join("\n");
    expect(finals(await probe([msg]))).toEqual([405]);
    expect(ngn.sipLog.some((e) => e.note === "405 method MESSAGE")).toBe(true);
  });

  it("outbound: 500 for an odd RTP port or two c= lines, 488 for non-PCMU, 400 for URI parameters", async () => {
    const odd = invite({ sdp: [`c=IN IP4 ${GW}`, "t=0 0", "m=audio 50001 RTP/AVP 0", "a=rtpmap:0 PCMU/8000"] });
    const twoC = invite({ sdp: [`c=IN IP4 ${GW}`, "t=0 0", "m=audio 50000 RTP/AVP 0", `c=IN IP4 ${GW}`] });
    const g722 = invite({ sdp: [`c=IN IP4 ${GW}`, "t=0 0", "m=audio 50000 RTP/AVP 9 0 101", "a=rtpmap:9 G722/8000"] });
    const params = invite({ ruri: `sip:0311112222@${PCSCF};transport=udp` });
    const replies = await probe([odd, twoC, g722, params], 5060, 4000);
    expect(finals(replies)).toEqual([500, 500, 488, 400]);
  });

  it("outbound: a well-formed call gets 100, 183 with SDP, 200 with refresher=uas and Require: timer; RTP is echoed", async () => {
    const file = writeScenario(join(NGN_DIR, "scenarios"), "selftest-gw-call", ngn.dir, { hold_ms: 500 });
    const sipp = lab.spawn("wan", "sipp", [PCSCF, "-sf", file, "-i", GW, "-p", "5060", "-m", "1", "-s", "0311112222", "-key", "domain", NGN_LAB.domain, "-key", "number", NGN_LAB.mainNumber, "-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err", "-error_file", join(ngn.dir, "st-call-err.log")], { stdio: ["ignore", "ignore", "pipe"] });
    const code = await new Promise((r) => sipp.once("exit", r));
    expect(code).toBe(0);
    const { stdout } = await execFileP("ip", ["netns", "exec", lab.ns("wan"), process.execPath, join(NGN_DIR, "udp-probe.mjs"), JSON.stringify({ bind: GW, port: 50000, to: `${NGN_LAB.media}:${NGN_LAB.mediaPort}`, rtp: { count: 10 } })], { timeout: 10_000 });
    const rtp = JSON.parse(stdout) as { rtpSent: number; rtpEchoed: number };
    expect(rtp).toEqual({ rtpSent: 10, rtpEchoed: 10 });
  });

  it("inbound: compact INVITE with folded PAI, PRACKs a reliable 180, refreshes with UPDATE, then hangs up", async () => {
    const file = writeScenario(join(NGN_DIR, "scenarios"), "selftest-gw-answer", ngn.dir, {});
    const gw = lab.spawn("wan", "sipp", ["-sf", file, "-i", GW, "-p", "5060", "-m", "1", "-timeout", "30s", "-timeout_error", "-nostdin", "-trace_err", "-error_file", join(ngn.dir, "st-answer-err.log")], { stdio: ["ignore", "ignore", "pipe"] });
    const gwExit = new Promise((r) => gw.once("exit", r));
    await new Promise((r) => setTimeout(r, 300)); // SIPp binds its port
    const run = await ngn.placeInboundCall({ updateAfterMs: 500, byeWaitMs: 500 });
    // SIPp notes the planned BYE timeout as an "event"; anything unexpected would be an abort.
    expect(run.errors).not.toMatch(/Aborting|unexpected|failed/i);
    expect(run.exitCode).toBe(0);
    expect(await gwExit).toBe(0);
    for (const m of ["INVITE", "PRACK", "ACK", "UPDATE", "BYE"]) expect(run.messages).toMatch(new RegExp(`^${m} sip:`, "m"));
  });

  it("missed call: CANCEL after ringing, 487 ACKed", async () => {
    const file = writeScenario(join(NGN_DIR, "scenarios"), "selftest-gw-ring", ngn.dir, {});
    const gw = lab.spawn("wan", "sipp", ["-sf", file, "-i", GW, "-p", "5060", "-m", "1", "-timeout", "20s", "-timeout_error", "-nostdin"], { stdio: ["ignore", "ignore", "pipe"] });
    const gwExit = new Promise((r) => gw.once("exit", r));
    await new Promise((r) => setTimeout(r, 300));
    const run = await ngn.placeMissedCall({ ringMs: 300 });
    expect(run.exitCode).toBe(0);
    expect(await gwExit).toBe(0);
    expect(run.messages).toMatch(/^CANCEL sip:/m);
  });

  it("registrar can be taken down and brought back", async () => {
    ngn.registrar.stop("503");
    await ngn.waitForSip((e) => e.ev === "control" && (e as { registrar?: string } & typeof e).registrar === "503", 2000);
    expect(finals(await probe([register()]))).toEqual([503]);
    ngn.registrar.stop("down");
    await ngn.waitForSip((e) => e.ev === "control" && (e as { registrar?: string } & typeof e).registrar === "down", 2000);
    await expect(probe([register()], 5060, 800)).rejects.toThrow(); // no answer: the probe times out
    ngn.registrar.start();
    await ngn.waitForSip((e) => e.ev === "control" && (e as { registrar?: string } & typeof e).registrar === "up", 2000);
    expect(finals(await probe([register()]))).toEqual([200]);
    // A restarted front has lost its bindings, as a rebooted server would.
    await ngn.stopPcscf();
    await ngn.startPcscf();
    const from = ngn.sipLog.length;
    expect(finals(await probe([register()]))).toEqual([200]);
    await ngn.waitForSip((e) => e.ev === "binding", 2000, from);
  });

  it("capture lists the SIP methods on the link and finds nothing malformed", async () => {
    await ngn.capture.stop();
    const methods = ngn.capture.sipMethods(NGN_LAB.pcscf);
    expect(methods.filter((m) => m === "OPTIONS")).toHaveLength(1); // the one the self-test sent
    expect(methods).toContain("REGISTER");
    expect(methods).toContain("INVITE");
    expect(ngn.capture.sipMethods(GW)).toEqual(expect.arrayContaining(["INVITE", "PRACK", "UPDATE", "BYE", "CANCEL"]));
    expect(ngn.capture.expertErrors()).toEqual([]);
    // The OFFER as tshark dissects it on the wire (a second, independent decoder of 120/125).
    const seen = ngn.capture.dhcpMessages(2);
    expect(seen.length).toBeGreaterThan(0);
    const offer = seen[0];
    expect(offer["dhcp.ip.your"]).toEqual([NGN_LAB.subnets[0].lease]);
    expect(offer["dhcp.option.sip_server.encoding"]).toEqual(["1"]);
    expect(offer["dhcp.option.sip_server.address"]).toEqual([NGN_LAB.pcscf]);
    expect(offer["dhcp.option.classless_static_route"]).toEqual(["18c61205c6120401"]);
    expect(offer["dhcp.option.router"]).toEqual([NGN_LAB.subnets[0].peer]);
    expect(offer["dhcp.option.domain_name_server"]).toEqual([]);
    expect(offer["dhcp.option.type"]).not.toContain("6");
    expect(offer["dhcp.option.vi.enterprise"]).toEqual(["210"]);
    expect([...offer["dhcp.vendor.suboption"]].sort()).toEqual(["201", "202", "203", "204"]);
  });
});

/**
 * The rules the trunk tests apply to what the gateway sends (ngn/rules.ts): a conforming
 * message passes, and each single deviation docs/ngn.md warns about is reported. No lab needed.
 */
describe("NGN rules on the gateway's messages", () => {
  const line: LineFacts = { lease: GW, domain: NGN_LAB.domain, numbers: [NGN_LAB.mainNumber, NGN_LAB.additionalNumber] };
  const sdp = ["v=0", `o=- 7 1 IN IP4 ${GW}`, "s=-", `c=IN IP4 ${GW}`, "t=0 0", "m=audio 50000 RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=ptime:20", ""].join("\r\n");
  const good = [
    `INVITE sip:0311112222@${PCSCF} SIP/2.0`,
    `Via: SIP/2.0/UDP ${GW}:5060;branch=z9hG4bK-1`,
    `From: <sip:${NGN_LAB.mainNumber}@${NGN_LAB.domain}>;tag=a`,
    `To: <sip:0311112222@${NGN_LAB.domain}>`,
    `P-Preferred-Identity: <sip:${NGN_LAB.additionalNumber}@${NGN_LAB.domain}>`,
    `Contact: <sip:${NGN_LAB.mainNumber}@${GW}:5060>`,
    "Supported: 100rel, timer",
    "Session-Expires: 300",
    "Allow: INVITE,ACK,BYE,CANCEL,PRACK,UPDATE",
    "Content-Type: application/sdp",
    "",
    sdp,
  ].join("\r\n");
  const tweak = (from: string, to: string) => {
    expect(good).toContain(from);
    return good.replace(from, to);
  };

  it("passes a conforming INVITE and reports each deviation", () => {
    expect(outboundInviteProblems(good, line)).toEqual([]);
    const cases: [string, string, RegExp][] = [
      [`From: <sip:${NGN_LAB.mainNumber}@`, "From: <sip:801@", /From/],
      [`P-Preferred-Identity: <sip:${NGN_LAB.additionalNumber}@`, "P-Preferred-Identity: <sip:0399999999@", /P-Preferred-Identity/],
      ["Supported: 100rel, timer", "P-Asserted-Identity: <sip:0312345678@ntt-east.ne.jp>\r\nSupported: 100rel, timer", /P-Asserted-Identity/],
      [`${GW}:5060>`, `${GW}:5060;transport=udp>`, /transport=/],
      [`Contact: <sip:${NGN_LAB.mainNumber}@${GW}:5060>`, `Contact: <sip:${NGN_LAB.mainNumber}@${GW}:5070>`, /lease address :5060/],
      ["Supported: 100rel, timer", "Supported: timer", /100rel/],
      ["Session-Expires: 300\r\n", "", /Session-Expires/],
      ["Allow: INVITE,ACK,BYE,CANCEL,PRACK,UPDATE", "Allow: INVITE,ACK,BYE\r\nAllow: CANCEL,PRACK,UPDATE", /one Allow/],
      [`o=- 7 1 IN IP4 ${GW}`, "o=- 7 1 IN IP4 198.18.2.1", /o=/],
      ["a=ptime:20\r\n", "", /ptime/],
      ["m=audio 50000 RTP/AVP 0 101\r\n", `m=audio 50000 RTP/AVP 0 101\r\nc=IN IP4 ${GW}\r\n`, /one c=/],
      ["m=audio 50000", "m=audio 50001", /even/],
      ["RTP/AVP 0 101", "RTP/AVP 0 8 101", /exactly PCMU/],
    ];
    for (const [from, to, rule] of cases) expect(outboundInviteProblems(tweak(from, to), line).join("\n")).toMatch(rule);
    expect(allowProblems(good)).toEqual([]);
    expect(allowProblems(tweak("PRACK,", "")).join()).toMatch(/PRACK/);
    expect(allowProblems(tweak(",UPDATE", "")).join()).toMatch(/UPDATE/);
    // Compact names count as their long forms (RFC 3261 §7.3.3).
    expect(outboundInviteProblems(tweak("Supported: 100rel, timer", "k: 100rel,timer").replace("Session-Expires:", "x:"), line)).toEqual([]);
    expect(sdpProblems(`v=0\r\no=- 1 1 IN IP4 ${GW}\r\ns=-\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0 101\r\nc=IN IP4 ${GW}\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n`, GW).join()).toMatch(/session-level/);
  });

  it("checks the 200 to the NGN and REGISTER", () => {
    const ok = ["SIP/2.0 200 OK", `Contact: <sip:${NGN_LAB.mainNumber}@${GW}:5060>`, "Session-Expires: 300;refresher=uac", "Require: timer", "Content-Type: application/sdp", "", sdp].join("\r\n");
    expect(answerProblems(ok, GW)).toEqual([]);
    expect(answerProblems(ok.replace("Require: timer\r\n", ""), GW).join()).toMatch(/Require: timer/);
    expect(answerProblems(ok.replace("Session-Expires: 300;refresher=uac\r\n", ""), GW).join()).toMatch(/Session-Expires/);
    expect(answerProblems(ok.replace(`${GW}:5060>`, "198.18.2.1:5060>"), GW).join()).toMatch(/Contact/);
    expect(answerProblems(ok.split("\r\n\r\n")[0]! + "\r\n\r\n", GW).join()).toMatch(/no SDP/);
    expect(answerProblems(ok.split("\r\n\r\n")[0]! + "\r\n\r\n", GW, { sdp: false })).toEqual([]);
    const reg = register().replace(/\n/g, "\r\n");
    expect(registerProblems(reg, line)).toEqual([]);
    expect(registerProblems(reg.replace("Expires: 3600", "Expires: 600"), line).join()).toMatch(/Expires 3600/);
    expect(registerProblems(reg.replace(`${GW}:5060>`, `${GW}:5060;transport=udp>`), line).join()).toMatch(/transport=/);
  });
});
