/**
 * The answering machine end to end: the trunk lab (the NGN emulator on the WAN port, DHCP,
 * the strict P-CSCF) with Debian's mosquitto beside the gateway. The line calls; phone 801
 * rings and nobody answers; after `voicemail.answer_after_s` (2 s here) the gateway answers
 * the line itself. The caller's side (SIPp through the P-CSCF for the SIP, and a small RTP
 * agent in the NGN's namespace for the media: rtp-caller.mjs) receives the greeting and the
 * beep as RTP (count, 20 ms pacing, PCMU, timestamps), plays a known tone for N seconds and
 * hangs up; the WAV written holds N seconds of that tone (Debian's sox: length and rough
 * frequency), the MQTT event names the caller, and its URL serves the WAV on the LAN side.
 * With 5 % loss and reordering the message keeps its length. DND answers at once; a phone
 * that answers before answer_after_s keeps the call.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labReady } from "./env.js";
import { Lab } from "./netns.js";
import type { Ngn } from "./ngn/emulator.js";
import { NGN_LAB } from "./ngn/addresses.js";
import { renderScenario } from "./ngn/scenario-template.js";
import { startSipp, type SippRun } from "./sip/sipp.js";
import type { Phone, SipLab } from "./sip/topology.js";
import { parseTrace, summarize } from "./sip/trace.js";
import type { TrunkGateway } from "./trunk/gateway-run.js";
import { publish, type Broker, type Message, type Subscriber } from "./mqtt/mosquitto.js";
import { BASE, startMqttTrunkLab, stopMqttTrunkLab } from "./mqtt/mqtt-trunk-lab.js";
import { beepTone, defaultGreeting } from "../../src/voicemail/greeting.js";

const ready = labReady("voicemail lab", ["sipp", "dnsmasq", "mosquitto", "mosquitto_sub", "nft", "sox", "curl"]);
const ANSWER_AFTER_S = 2;
const RTP_PORT = 17000;
const HERE = fileURLToPath(new URL("./", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Json = Record<string, unknown>;
const json = (m: Message) => (m.json ?? {}) as Json;

/** Greeting and beep as the machine plays them, in 20 ms packets. */
const GREETING_PACKETS = Math.ceil(defaultGreeting().length / 160) + Math.ceil(beepTone().length / 160);
const GREETING_MS = GREETING_PACKETS * 20;

interface CallerMedia {
  greeting: [number, number, number, number, number][];
  sent: number;
  lost: number;
  swapped: number;
}

describe.skipIf(!ready)("voicemail: the gateway answers the line, records the message, tells Home Assistant", () => {
  let lab: Lab;
  let net: SipLab;
  let phone: Phone;
  let ngn: Ngn;
  let gw: TrunkGateway;
  let dir: string;
  let broker: Broker;
  let sub: Subscriber;
  let seq = 0;
  const stateDir = () => join(dir, "state");

  const why = () => `--- gateway ---\n${gw.lines.slice(-30).join("\n")}\n--- mqtt ---\n${sub?.tail()}`;
  const phoneSipp = (scenario: string, more: Partial<SippRun> = {}): SippRun => ({ scenario, host: phone.host, localAddr: phone.addr, remote: `${net.gatewayAddr}:5060`, dir, name: `${++seq}-vm-${scenario.replace(".xml", "")}`, ...more });

  /** The NGN's call (the emulator's inbound scenario, its SDP naming the RTP agent's port), BYE after byeWaitMs. */
  function lineCall(byeWaitMs: number) {
    const role = `vm-caller-${++seq}`;
    const template = readFileSync(join(HERE, "ngn/scenarios/inbound-call.xml"), "utf8").replaceAll("m=audio [media_port]", "m=audio [rtp_port]");
    const file = join(dir, `${role}.xml`);
    writeFileSync(
      file,
      renderScenario(template, {
        from_uri: `<sip:${NGN_LAB.callerNumber}@${NGN_LAB.domain}>`, pai: true, ring_wait_ms: 10_000, answer_wait_ms: 15_000,
        update: false, update_after_ms: 0, reinvite: false, reinvite_after_ms: 0, update_sdp: false, update_sdp_after_ms: 0,
        se_s: 300, min_se_s: 300, bye_wait_ms: byeWaitMs,
      }),
    );
    const trace = join(dir, `${role}.messages.log`);
    const child = lab.spawn(NGN_LAB.host, "sipp", [
      `${NGN_LAB.pcscf}:${NGN_LAB.sipPort}`, "-sf", file, "-i", NGN_LAB.pcscf, "-p", "5068",
      "-mi", NGN_LAB.media, "-mp", "18000", "-m", "1", "-s", NGN_LAB.mainNumber,
      "-key", "pcscf", NGN_LAB.pcscf, "-key", "domain", NGN_LAB.domain, "-key", "gw", `${NGN_LAB.subnets[0].lease}:5060`,
      "-key", "caller", NGN_LAB.callerNumber, "-key", "pai_fold", `\r\n\t<tel:${NGN_LAB.callerNumber}>`, "-key", "rtp_port", String(RTP_PORT),
      "-trace_msg", "-message_file", trace, "-nostdin", "-timeout", `${Math.ceil(byeWaitMs / 1000) + 25}s`, "-timeout_error",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    return new Promise<{ code: number | null; messages: ReturnType<typeof parseTrace>; stderr: string }>((resolve) =>
      child.once("exit", (code) => resolve({ code, messages: existsSync(trace) ? parseTrace(readFileSync(trace, "utf8")) : [], stderr })),
    );
  }

  /** The caller's RTP: takes the greeting, then sends toneMs of toneHz. */
  function callerMedia(o: { toneHz: number; toneMs: number; lossPct?: number; reorderPct?: number }): Promise<CallerMedia> {
    const args = JSON.stringify({ bind: NGN_LAB.media, port: RTP_PORT, quietMs: 400, waitMs: 20_000, ...o });
    const child = lab.spawn(NGN_LAB.host, "node", [join(HERE, "voicemail/rtp-caller.mjs"), args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    return new Promise((resolve, reject) =>
      child.once("exit", () => {
        try {
          resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "") as CallerMedia);
        } catch {
          reject(new Error(`rtp-caller printed no result: ${out.slice(-500)}`));
        }
      }),
    );
  }

  /** sox's view of a WAV: length in seconds and the rough frequency. */
  function soxStat(file: string): { length: number; freq: number } {
    const r = lab.exec(net.gatewayHost, "sh", ["-c", `sox "${file}" -n stat 2>&1`]);
    const num = (label: string) => Number(new RegExp(`${label}:\\s+([-0-9.]+)`).exec(r)?.[1]);
    return { length: num("Length \\(seconds\\)"), freq: num("Rough\\s+frequency") };
  }

  /** The voicemail event of a message not among `known` (ids seen before this call). */
  const newVoicemail = async (from: number, known: Set<unknown>) =>
    json(await sub.waitFor((x) => x.topic === `${BASE}/event` && json(x).type === "voicemail" && !known.has(json(x).id), 10_000, from, "voicemail event"));
  const knownIds = () => new Set(sub.messages.filter((x) => x.topic === `${BASE}/event` && json(x).type === "voicemail").map((x) => json(x).id));
  /** DND as the test wants it (set over MQTT, confirmed by the retained state). */
  const setDnd = async (on: boolean) => {
    const from = sub.messages.length;
    publish(lab, net.gatewayHost, `${BASE}/bridge/request/dnd`, JSON.stringify({ value: on }));
    await sub.waitFor((x) => x.topic === `${BASE}/bridge/response/dnd`, 5000, from, "dnd response");
    await sub.waitFor((x) => x.topic === `${BASE}/dnd` && json(x).dnd === on, 5000, 0, "dnd state");
  };

  const wavs = () => (existsSync(join(stateDir(), "voicemail")) ? readdirSync(join(stateDir(), "voicemail")).filter((f) => f.endsWith(".wav")) : []);

  beforeAll(async () => {
    lab = new Lab("hgwvm");
    const t = await startMqttTrunkLab(lab, {
      dirPrefix: "hgw-voicemail-",
      sippName: (sc) => `${++seq}-vm-${sc.replace(".xml", "")}`,
      gateway: {
        extraYaml: `phonebook: { numbers: { "${NGN_LAB.callerNumber}": "Dentist" } }
voicemail: { enabled: true, answer_after_s: ${ANSWER_AFTER_S}, max_message_s: 60, silence_s: 5 }
`,
      },
    });
    ({ net, phone, ngn, gw, dir, broker, sub } = t);
    expect(t.registration.code, "phone registration").toBe(0);
  }, 90_000);

  afterAll(async () => {
    await stopMqttTrunkLab(lab, { sub, broker, gw, ngn, dir });
  });

  it("nobody answers: after answer_after_s the line is answered, hears the greeting, and its 3 s tone is the message", async () => {
    const from = sub.messages.length;
    const known = knownIds();
    const ringing = startSipp(lab, phoneSipp("uas-ring.xml", { service: "801", timeoutS: 30 }));
    await sleep(300);
    const media = callerMedia({ toneHz: 600, toneMs: 3000 });
    const call = await lineCall(GREETING_MS + 400 + 3000 + 1500);
    const m = await media;
    const phoneRun = await ringing.done;
    const explain = `${why()}\n--- line saw ---\n${summarize(call.messages)}\n${call.stderr}`;
    expect(call.code, explain).toBe(0);
    expect(phoneRun.code, `${explain}\n${phoneRun.output}`).toBe(0);

    // The answer came after answer_after_s of ringing, shaped as the trunk answers: timer required, PCMU + telephone-event.
    const invite = call.messages.find((x) => x.dir === "sent" && x.method === "INVITE")!;
    const ok = call.messages.find((x) => x.dir === "received" && x.status === 200 && x.cseqMethod === "INVITE")!;
    expect(ok.at - invite.at, explain).toBeGreaterThanOrEqual(ANSWER_AFTER_S - 0.1);
    expect(ok.at - invite.at, explain).toBeLessThan(ANSWER_AFTER_S + 1.5);
    expect(ok.body).toMatch(new RegExp(`c=IN IP4 ${NGN_LAB.subnets[0].lease.replaceAll(".", "\\.")}`));
    expect(ok.body).toMatch(/m=audio \d*[02468] RTP\/AVP 0 101/);
    expect(ok.headers.get("require")?.join(",")).toMatch(/timer/);
    // The phone stopped ringing with a CANCEL that says voicemail, not "completed elsewhere".
    const cancel = phoneRun.messages.find((x) => x.dir === "received" && x.method === "CANCEL")!;
    expect(cancel.headers.get("reason")?.join(","), explain).toContain("cause=480");

    // The greeting and beep as RTP: all of it, PCMU, 20 ms apart; one talkspurt (RFC 3550 §5.1,
    // RFC 3551 §4.1): the marker on its first packet only, sequence +1 and timestamp +160 each.
    const g = m.greeting;
    expect(g.length, explain).toBeGreaterThanOrEqual(GREETING_PACKETS - 2);
    expect(g.length).toBeLessThanOrEqual(GREETING_PACKETS + 2);
    expect(g.every((p) => p[1] === 0)).toBe(true);
    expect(g.map((p) => p[4]).lastIndexOf(1)).toBe(0);
    for (let i = 1; i < g.length; i++) {
      expect((g[i]![2] - g[i - 1]![2]) & 0xffff, `packet ${i}`).toBe(1);
      expect((g[i]![3] - g[i - 1]![3]) >>> 0, `packet ${i}`).toBe(160);
    }
    const span = (g.at(-1)![0] - g[0]![0]) / (g.length - 1);
    expect(span).toBeGreaterThan(19);
    expect(span).toBeLessThan(21);
    const gaps = g.slice(1).map((p, i) => p[0] - g[i]![0]);
    expect(gaps.filter((d) => Math.abs(d - 20) <= 10).length / gaps.length, `gaps ${gaps.join(",")}`).toBeGreaterThan(0.9);

    // The message: MQTT names the caller; the WAV holds 3 s of 600 Hz; its URL serves it on the LAN side.
    const ev = await newVoicemail(from, known);
    expect(ev).toMatchObject({ type: "voicemail", event_type: "voicemail", from: NGN_LAB.callerNumber, name: "Dentist", to: NGN_LAB.mainNumber, reason: "hangup" });
    expect(Math.abs((ev.duration_s as number) - 3)).toBeLessThanOrEqual(0.2);
    const wav = join(stateDir(), "voicemail", ev.file as string);
    const stat = soxStat(wav);
    expect(Math.abs(stat.length - 3), JSON.stringify(stat)).toBeLessThanOrEqual(0.2);
    expect(Math.abs(stat.freq - 600), JSON.stringify(stat)).toBeLessThan(30);
    const url = ev.url as string;
    expect(url).toMatch(new RegExp(`^http://${net.gatewayAddr}:8580/voicemail/${ev.id as string}\\.wav\\?token=`));
    const fetched = join(dir, "fetched.wav");
    const code = lab.exec(phone.host, "curl", ["-s", "-o", fetched, "-w", "%{http_code}", url]);
    expect(code).toBe("200");
    expect(readFileSync(fetched).equals(readFileSync(wav))).toBe(true);
    expect(lab.exec(phone.host, "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", url.replace(/token=.*/, "token=AAAAAAAAAAAAAAAAAAAAAA")])).toBe("404");

    // Home Assistant's view: the call is a voicemail (and a missed call); the box counts one new message, then none once heard.
    const calls = json(await sub.waitFor((x) => x.topic === `${BASE}/calls` && ((json(x).calls as Json[])[0]?.result === "voicemail"), 5000, from, "calls"));
    expect((calls.calls as Json[])[0]).toMatchObject({ from: NGN_LAB.callerNumber, from_name: "Dentist", result: "voicemail" });
    expect(json(await sub.waitFor((x) => x.topic === `${BASE}/missed` && (json(x).count as number) >= 1, 5000, from, "missed"))).toMatchObject({ last_from: NGN_LAB.callerNumber });
    expect(json(await sub.waitFor((x) => x.topic === `${BASE}/voicemail` && json(x).last_id === ev.id && json(x).last_heard === true, 5000, from, "box after the fetch"))).toMatchObject({ new: 0, total: 1, last_from: NGN_LAB.callerNumber, last_name: "Dentist" });
    const types = sub.on(`${BASE}/event`, from).map((x) => [json(x).type, json(x).answered_by]);
    expect(types.slice(0, 3)).toEqual([["incoming", undefined], ["answered", "voicemail"], ["ended", "voicemail"]]);
    // The relay carried none of it (freed at the machine's answer): no quality event for this call.
    const callId = json(sub.on(`${BASE}/event`, from)[0]!).call_id;
    expect(sub.on(`${BASE}/event`, from).some((x) => json(x).type === "quality" && json(x).call_id === callId)).toBe(false);
    // The message's event names that call, so an automation can match the two.
    expect(callId).toEqual(expect.any(String));
    expect(ev.call_id).toBe(callId);
  }, 60_000);

  it("DND answers at once, and a message with 5 % loss and reordering keeps its length", async () => {
    const from = sub.messages.length;
    const known = knownIds();
    await setDnd(true);
    const before = wavs().length;
    const media = callerMedia({ toneHz: 800, toneMs: 4000, lossPct: 5, reorderPct: 5 });
    const call = await lineCall(GREETING_MS + 400 + 4000 + 1500);
    const m = await media;
    const explain = `${why()}\n--- line saw ---\n${summarize(call.messages)}\n${call.stderr}\n${JSON.stringify({ ...m, greeting: m.greeting.length })}`;
    expect(call.code, explain).toBe(0);
    const invite = call.messages.find((x) => x.dir === "sent" && x.method === "INVITE")!;
    const ok = call.messages.find((x) => x.dir === "received" && x.status === 200 && x.cseqMethod === "INVITE")!;
    expect(ok.at - invite.at, explain).toBeLessThan(1);
    // Nothing rang: the machine was the only place the call went.
    expect(gw.lines.some((l) => l.includes("call ringing out") && l.includes('"targets":["voicemail"]')), explain).toBe(true);
    expect(m.lost, "the agent did lose packets").toBeGreaterThan(5);
    expect(m.swapped).toBeGreaterThan(3);
    const ev = await newVoicemail(from, known);
    const stat = soxStat(join(stateDir(), "voicemail", ev.file as string));
    expect(Math.abs(stat.length - 4), JSON.stringify(stat)).toBeLessThanOrEqual(0.2);
    expect(Math.abs(stat.freq - 800), JSON.stringify(stat)).toBeLessThan(40);
    expect(wavs().length).toBe(before + 1);
    await setDnd(false);
  }, 60_000);

  it("a phone that answers before answer_after_s keeps the call: no voicemail", async () => {
    await setDnd(false);
    const from = sub.messages.length;
    const before = wavs().length;
    const callee = startSipp(lab, phoneSipp("uas-answer.xml", { service: "801", timeoutS: 20 }));
    await sleep(300);
    const run = await ngn.placeInboundCall({ updateAfterMs: 0, byeWaitMs: (ANSWER_AFTER_S + 2) * 1000 });
    const p = await callee.done;
    expect(run.exitCode, `${why()}\n${run.errors.slice(-1500)}`).toBe(0);
    expect(p.code, why()).toBe(0);
    await sub.waitFor((x) => x.topic === `${BASE}/event` && json(x).type === "ended", 10_000, from, "ended");
    const events = sub.on(`${BASE}/event`, from).map(json);
    expect(events.find((e) => e.type === "answered")).toMatchObject({ extension: "801" });
    expect(events.some((e) => e.type === "voicemail" || e.answered_by !== undefined)).toBe(false);
    await sleep(500);
    expect(wavs().length).toBe(before);
  }, 40_000);
});
