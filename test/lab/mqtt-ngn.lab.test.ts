/**
 * MQTT for calls on the line: the trunk lab (the NGN emulator on the WAN port, DHCP, the
 * strict P-CSCF) with Debian's mosquitto beside the gateway. A call from the line is what
 * Home Assistant users watch: the line channel ringing, talking, idle; the caller's name
 * from the phonebook; a missed call counted; a blocklisted caller refused with 603 and
 * nothing ringing; a withheld caller shown as anonymous; two calls at once on a two-channel
 * line, each on its own channel; do-not-disturb set over MQTT, the line hearing 486.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labReady } from "./env.js";
import { Lab } from "./netns.js";
import type { Ngn } from "./ngn/emulator.js";
import { NGN_LAB } from "./ngn/addresses.js";
import { credentials, runSipp, startSipp, type SippRun } from "./sip/sipp.js";
import type { Phone, SipLab } from "./sip/topology.js";
import { find, parseTrace, summarize } from "./sip/trace.js";
import type { TrunkGateway } from "./trunk/gateway-run.js";
import { publish, type Broker, type Message, type Subscriber } from "./mqtt/mosquitto.js";
import { BASE, startMqttTrunkLab, stopMqttTrunkLab } from "./mqtt/mqtt-trunk-lab.js";

const ready = labReady("mqtt ngn lab", ["sipp", "dnsmasq", "mosquitto", "mosquitto_sub", "nft", "ss"]);
const BLOCKED = "0120999999";
/** The second caller of the two-calls test (not in the phonebook). */
const SECOND_CALLER = "0398765499";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Json = Record<string, unknown>;
const json = (m: Message) => (m.json ?? {}) as Json;

describe.skipIf(!ready)("MQTT for calls from the NGN (emulator + mosquitto)", () => {
  let lab: Lab;
  let net: SipLab;
  let phone: Phone;
  let phone2: Phone;
  let ngn: Ngn;
  let gw: TrunkGateway;
  let dir: string;
  let broker: Broker;
  let sub: Subscriber;
  let seq = 0;

  const why = () => `--- gateway ---\n${gw.lines.slice(-25).join("\n")}\n--- mqtt ---\n${sub.tail()}`;
  const sipp = (scenario: string, more: Partial<SippRun> = {}): SippRun => ({ scenario, host: phone.host, localAddr: phone.addr, remote: `${net.gatewayAddr}:5060`, dir, name: `${++seq}-mqngn-${scenario.replace(".xml", "")}`, ...more });
  /** The line channel states published since `from`, in order (repeats collapsed). */
  const lineStates = (from: number) =>
    sub
      .on(`${BASE}/line`, from)
      .map((m) => ((json(m).channels as Json[])[0]!.state as string))
      .filter((s, i, all) => i === 0 || all[i - 1] !== s);

  beforeAll(async () => {
    lab = new Lab("hgwmqn");
    const t = await startMqttTrunkLab(lab, {
      dirPrefix: "hgw-mqtt-ngn-",
      sippName: (sc) => `${++seq}-mqngn-${sc.replace(".xml", "")}`,
      gateway: {
        // The double-channel option: two calls at once (docs/home-assistant.md, one `line` state per channel).
        channels: 2,
        extraYaml: `phonebook: { numbers: { "${NGN_LAB.callerNumber}": "Yamada Taro" } }
blocklist: { numbers: ["${BLOCKED}"], status: 603 }
`,
      },
    });
    ({ net, phone, phone2, ngn, gw, dir, broker, sub } = t);
    expect(t.registration.code, "phone registration").toBe(0);
  }, 90_000);

  afterAll(async () => {
    await stopMqttTrunkLab(lab, { sub, broker, gw, ngn, dir });
  });

  it("an answered call from the line: the channel rings (caller named from the phonebook), talks on 801, goes idle; events in order", async () => {
    const from = sub.messages.length;
    const callee = startSipp(lab, sipp("uas-answer.xml", { service: "801", timeoutS: 30 }));
    await sleep(300);
    const run = await ngn.placeInboundCall({ updateAfterMs: 0, byeWaitMs: 1500 });
    const p = await callee.done;
    expect(run.exitCode, `${why()}\n${run.errors.slice(-1500)}`).toBe(0);
    expect(p.code, why()).toBe(0);
    await sub.waitFor((m) => m.topic === `${BASE}/event` && json(m).type === "ended", 10_000, from, "ended");
    expect(lineStates(from), why()).toEqual(["ringing", "talking", "idle"]);
    const ringing = sub.on(`${BASE}/line`, from).find((m) => (json(m).channels as Json[])[0]!.state === "ringing")!;
    expect((json(ringing).channels as Json[])[0]).toMatchObject({ channel: 1, caller: NGN_LAB.callerNumber, caller_name: "Yamada Taro", called: NGN_LAB.mainNumber });
    const events = sub.on(`${BASE}/event`, from).map(json);
    expect(events.map((e) => e.type)).toEqual(["incoming", "answered", "ended", "quality"]);
    expect(events[0]).toMatchObject({ direction: "inbound", from: NGN_LAB.callerNumber, from_name: "Yamada Taro", to: NGN_LAB.mainNumber });
    expect(events[1]).toMatchObject({ extension: "801" });
    expect(events[2]).toMatchObject({ hangup_by: "caller" });
    const last = await sub.waitFor((m) => m.topic === `${BASE}/last_caller`, 5000, from);
    expect(json(last)).toMatchObject({ number: NGN_LAB.callerNumber, name: "Yamada Taro" });
  }, 60_000);

  it("a missed call: ringing then idle, a missed event, the missed count and last missed caller", async () => {
    const from = sub.messages.length;
    const callee = startSipp(lab, sipp("uas-ring.xml", { service: "801", timeoutS: 20 }));
    await sleep(300);
    const run = await ngn.placeMissedCall({ ringMs: 1000 });
    await callee.done;
    expect(run.exitCode, why()).toBe(0);
    const missed = await sub.waitFor((m) => m.topic === `${BASE}/missed` && (json(m).count as number) >= 1, 10_000, from, "missed count");
    expect(json(missed)).toMatchObject({ count: 1, last_from: NGN_LAB.callerNumber, last_from_name: "Yamada Taro" });
    expect(lineStates(from)).toEqual(["ringing", "idle"]);
    expect(sub.on(`${BASE}/event`, from).map((m) => json(m).type)).toEqual(["incoming", "missed"]);
    const list = sub.on(`${BASE}/calls`, from).at(-1)!;
    expect((json(list).calls as Json[])[0]).toMatchObject({ direction: "inbound", from_name: "Yamada Taro", result: "missed" });
  }, 40_000);

  it("a blocklisted caller: the line hears 603, nothing rings, the line stays idle, one rejected event", async () => {
    const from = sub.messages.length;
    const run = await ngn.placeRejectedCall({ caller: BLOCKED, status: 603 });
    const msgs = parseTrace(run.messages);
    const explain = `${why()}\n--- ngn saw ---\n${summarize(msgs)}\n${run.errors.slice(-1500)}`;
    expect(run.exitCode, explain).toBe(0);
    expect(find(msgs, "received", 603), explain).toHaveLength(1);
    expect(find(msgs, "received", 180), "nothing rang").toHaveLength(0);
    await sub.waitFor((m) => m.topic === `${BASE}/event` && json(m).type === "rejected", 10_000, from, "rejected");
    expect(sub.on(`${BASE}/event`, from).map((m) => json(m).type)).toEqual(["rejected"]);
    expect(sub.on(`${BASE}/line`, from)).toEqual([]);
    const list = await sub.waitFor((m) => m.topic === `${BASE}/calls`, 5000, from);
    expect((json(list).calls as Json[])[0]).toMatchObject({ from: BLOCKED, result: "rejected" });
  }, 30_000);

  it("a withheld caller is `anonymous` in the events and on the line", async () => {
    const from = sub.messages.length;
    const callee = startSipp(lab, sipp("uas-answer.xml", { service: "801", timeoutS: 20 }));
    await sleep(300);
    const run = await ngn.placeInboundCall({ anonymous: true, updateAfterMs: 0, byeWaitMs: 1000 });
    await callee.done;
    expect(run.exitCode, why()).toBe(0);
    const incoming = await sub.waitFor((m) => m.topic === `${BASE}/event` && json(m).type === "incoming", 10_000, from);
    expect(json(incoming)).toMatchObject({ from: "anonymous" });
    await sub.waitFor((m) => m.topic === `${BASE}/event` && json(m).type === "ended", 10_000, from);
    // (The call list still holds the earlier calls from that number: only this call's messages count.)
    const thisCall = sub.messages.slice(from).filter((m) => m.topic !== `${BASE}/calls`);
    expect(JSON.stringify(thisCall.map((m) => m.payload))).not.toContain(NGN_LAB.callerNumber);
    expect(lineStates(from)).toEqual(["ringing", "talking", "idle"]);
    expect((json(sub.on(`${BASE}/line`, from)[0]!).channels as Json[])[0]).toMatchObject({ caller: "anonymous" });
  }, 40_000);

  it("two calls at once on the two channels: each keeps its own line state, caller and extension", async () => {
    const from = sub.messages.length;
    const channels = (m: Message) => json(m).channels as Json[];
    // Call 1 on the main number, answered by 801 (802 is not registered yet, so only 801 rings).
    const callee1 = startSipp(lab, sipp("uas-answer.xml", { service: "801", timeoutS: 40 }));
    await sleep(300);
    // Under media.timeout_s (6 s): these SIPp phones send no RTP, so a longer call is ended by the gateway.
    const call1 = ngn.placeInboundCall({ updateAfterMs: 0, byeWaitMs: 5000 });
    await sub.waitFor((m) => m.topic === `${BASE}/line` && channels(m)[0]!.state === "talking", 15_000, from, "channel 1 talking");
    // Call 2, from another caller while call 1 talks, on the additional number (802 only).
    const reg = await runSipp(lab, { ...sipp("reg.xml", { host: phone2.host, localAddr: phone2.addr }), inf: [credentials("802", phone2.password)], keys: { expires: "3600" }, authUri: net.gatewayAddr, timeoutS: 15 });
    expect(reg.code, `802 registration\n${why()}`).toBe(0);
    const callee2 = startSipp(lab, sipp("uas-answer.xml", { service: "802", host: phone2.host, localAddr: phone2.addr, timeoutS: 30 }));
    await sleep(300);
    const call2 = await ngn.placeInboundCall({ secondCaller: true, caller: SECOND_CALLER, called: NGN_LAB.additionalNumber, updateAfterMs: 0, byeWaitMs: 1000 });
    const [run1, p1, p2] = await Promise.all([call1, callee1.done, callee2.done]);
    expect(call2.exitCode, `${why()}\n${call2.errors.slice(-1500)}`).toBe(0);
    expect(run1.exitCode, `${why()}\n${run1.errors.slice(-1500)}`).toBe(0);
    expect([p1.code, p2.code], why()).toEqual([0, 0]);
    await sub.waitFor((m) => m.topic === `${BASE}/line` && channels(m).every((c) => c.state === "idle"), 10_000, from, "both channels idle");
    // Every `line` message in order, as "channel 1 | channel 2".
    const seen = sub.on(`${BASE}/line`, from).map((m) => channels(m).map((c) => `${String(c.state)}${c.caller ? ` ${String(c.caller)}` : ""}${c.extension ? `@${String(c.extension)}` : ""}`).join(" | "));
    const states = seen.filter((s, i) => i === 0 || seen[i - 1] !== s);
    const A = NGN_LAB.callerNumber;
    expect(states, why()).toEqual([
      `ringing ${A} | idle`,
      `talking ${A}@801 | idle`,
      `talking ${A}@801 | ringing ${SECOND_CALLER}`,
      `talking ${A}@801 | talking ${SECOND_CALLER}@802`,
      // Call 2 ends first: channel 1 is untouched.
      `talking ${A}@801 | idle`,
      "idle | idle",
    ]);
    const both = sub.on(`${BASE}/line`, from).find((m) => channels(m).every((c) => c.state === "talking"))!;
    expect(channels(both)[0]).toMatchObject({ channel: 1, caller_name: "Yamada Taro", called: NGN_LAB.mainNumber });
    expect(channels(both)[1]).toMatchObject({ channel: 2, called: NGN_LAB.additionalNumber });
    expect(channels(both)[0]!.call_id).not.toBe(channels(both)[1]!.call_id);
    const ended = sub.on(`${BASE}/event`, from).map(json).filter((e) => e.type === "ended");
    expect(ended.map((e) => [e.from, e.extension, e.hangup_by])).toEqual([
      [SECOND_CALLER, "802", "caller"],
      [A, "801", "caller"],
    ]);
    // 802 leaves again, so the next calls ring 801 alone as before.
    const unreg = await runSipp(lab, { ...sipp("reg.xml", { host: phone2.host, localAddr: phone2.addr }), inf: [credentials("802", phone2.password)], keys: { expires: "0" }, authUri: net.gatewayAddr, timeoutS: 15 });
    expect(unreg.code, "802 unregistration").toBe(0);
  }, 90_000);

  it("do-not-disturb through MQTT: the line hears 486, nothing rings, the call is missed and counted; off again rings", async () => {
    const from = sub.messages.length;
    const lastMissed = sub.on(`${BASE}/missed`).at(-1);
    const missedBefore = lastMissed ? (json(lastMissed).count as number) : 0;
    publish(lab, net.gatewayHost, `${BASE}/bridge/request/dnd`, '{"value": true, "transaction": "ngn-dnd"}');
    const res = await sub.waitFor((m) => m.topic === `${BASE}/bridge/response/dnd`, 5000, from, "dnd response");
    expect(json(res)).toEqual({ status: "ok", data: { value: true }, transaction: "ngn-dnd" });
    await sub.waitFor((m) => m.topic === `${BASE}/dnd` && json(m).dnd === true, 5000, from, "dnd on");
    const callFrom = sub.messages.length;
    const run = await ngn.placeRejectedCall({ status: 486 });
    const msgs = parseTrace(run.messages);
    const explain = `${why()}\n--- ngn saw ---\n${summarize(msgs)}\n${run.errors.slice(-1500)}`;
    expect(run.exitCode, explain).toBe(0);
    expect(find(msgs, "received", 486), explain).toHaveLength(1);
    expect(find(msgs, "received", 180), "nothing rang").toHaveLength(0);
    const missed = await sub.waitFor((m) => m.topic === `${BASE}/missed` && (json(m).count as number) > missedBefore, 10_000, callFrom, "missed count");
    expect(json(missed)).toMatchObject({ count: missedBefore + 1, last_from: NGN_LAB.callerNumber, last_from_name: "Yamada Taro" });
    expect(sub.on(`${BASE}/event`, callFrom).map((m) => json(m).type)).toEqual(["missed"]);
    expect(sub.on(`${BASE}/line`, callFrom), "the line never rang").toEqual([]);
    const list = await sub.waitFor((m) => m.topic === `${BASE}/calls`, 5000, callFrom);
    expect((json(list).calls as Json[])[0]).toMatchObject({ from: NGN_LAB.callerNumber, result: "missed", reason: "486 Busy Here" });
    publish(lab, net.gatewayHost, `${BASE}/bridge/request/dnd`, '{"value": false}');
    await sub.waitFor((m) => m.topic === `${BASE}/dnd` && json(m).dnd === false, 5000, callFrom, "dnd off");
    // DND off: the next call rings 801 again.
    const ringFrom = sub.messages.length;
    const callee = startSipp(lab, sipp("uas-ring.xml", { service: "801", timeoutS: 20 }));
    await sleep(300);
    const rung = await ngn.placeMissedCall({ ringMs: 500 });
    await callee.done;
    expect(rung.exitCode, why()).toBe(0);
    await sub.waitFor((m) => m.topic === `${BASE}/event` && json(m).type === "missed", 10_000, ringFrom, "missed after ringing");
    expect(lineStates(ringFrom)).toEqual(["ringing", "idle"]);
  }, 60_000);
});
