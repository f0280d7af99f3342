/**
 * Click-to-dial over MQTT against real peers: the trunk lab of mqtt-ngn.lab.test.ts (the NGN
 * emulator on the WAN port, Debian's mosquitto beside the gateway). A `dial` request rings
 * the extension (baresip, answering by itself and sending a tone), and once it answers the
 * NGN emulator gets the INVITE for the number, answers and echoes the media; the relay's
 * figures show RTP both ways; the phone hanging up ends both legs. A `hangup` request ends
 * a dialled call on both legs. Garbage and refused dial requests get error responses, and
 * nothing rings.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labReady } from "./env.js";
import { Lab } from "./netns.js";
import type { Ngn } from "./ngn/emulator.js";
import { startSipp } from "./sip/sipp.js";
import type { Phone, SipLab } from "./sip/topology.js";
import { find, header, userOf } from "./sip/trace.js";
import type { TrunkGateway } from "./trunk/gateway-run.js";
import { startAutoAnswerPhone } from "./trunk/baresip-phone.js";
import { publish, type Broker, type Message, type Subscriber } from "./mqtt/mosquitto.js";
import { BASE, startMqttTrunkLab, stopMqttTrunkLab } from "./mqtt/mqtt-trunk-lab.js";

const ready = labReady("mqtt dial lab", ["sipp", "baresip", "dnsmasq", "mosquitto", "mosquitto_sub", "nft", "ss"]);
/** The number dialled (a landline the NGN emulator's acceptor answers). */
const NUMBER = "0399990000";
type Json = Record<string, unknown>;
const json = (m: Message) => (m.json ?? {}) as Json;

describe.skipIf(!ready)("click-to-dial over MQTT (NGN emulator + mosquitto + baresip)", () => {
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

  const why = () => `--- gateway ---\n${gw.lines.slice(-30).join("\n")}\n--- mqtt ---\n${sub.tail()}`;
  const request = (payload: string) => publish(lab, net.gatewayHost, `${BASE}/bridge/request/dial`, payload);
  const response = (from: number, transaction: string) => sub.waitFor((m) => m.topic === `${BASE}/bridge/response/dial` && json(m).transaction === transaction, 5000, from, `dial response ${transaction}`);
  /** Requests the NGN's front received from the gateway (its P-CSCF log), once each (retransmissions left out). */
  const fromGateway = (method: string) => {
    const seen = new Set<string>();
    return ngn.requestsFromGateway(method).filter((e) => {
      const k = `${e.callId} ${e.cseq}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  };
  const ngnInvites = (number: string) => fromGateway("INVITE").filter((e) => e.first?.startsWith(`INVITE sip:${number}@`));
  const events = (from: number, callId: string) => sub.on(`${BASE}/event`, from).map(json).filter((e) => e.call_id === callId);

  beforeAll(async () => {
    lab = new Lab("hgwmqd");
    const t = await startMqttTrunkLab(lab, {
      dirPrefix: "hgw-mqtt-dial-",
      sippName: (sc) => `${++seq}-mqdial-${sc.replace(".xml", "")}`,
    });
    ({ net, phone, phone2, ngn, gw, dir, broker, sub } = t);
    expect(t.registration.code, "phone registration").toBe(0);
  }, 90_000);

  afterAll(async () => {
    await stopMqttTrunkLab(lab, { sub, broker, gw, ngn, dir });
  });

  it("dial: the extension (baresip) rings showing the number, answers; the NGN gets the INVITE for the number; RTP both ways through the relay; the phone hangs up and the NGN gets BYE", async () => {
    // baresip as 802 answers at once (answermode=auto), sends its tone, and quits after 9 s, hanging up with BYE.
    const bare = startAutoAnswerPhone(lab, phone2.host, join(dir, "baresip-802"), { number: "802", password: phone2.password, registrar: net.gatewayAddr, localAddr: phone2.addr }, 9);
    await bare.waitFor(/802@198\.18\.2\.1: \{0\/UDP\/v4\} 200 OK/, 5000);
    await sub.waitFor((m) => m.topic === `${BASE}/extensions/802` && json(m).registered === true, 5000, 0, "802 registered");
    const from = sub.messages.length;
    const invitesBefore = ngnInvites(NUMBER).length;
    request(`{"extension": "802", "number": "03-9999-0000", "transaction": "dial-1"}`);
    const res = json(await response(from, "dial-1"));
    expect(res, why()).toMatchObject({ status: "ok", data: { extension: "802", number: "03-9999-0000" } });
    const callId = (res.data as Json).call_id as string;
    expect(callId).toMatch(/./);
    await sub.waitFor((m) => m.topic === `${BASE}/event` && json(m).type === "quality" && json(m).call_id === callId, 25_000, from, "the dialled call's quality event");
    const b = await bare.done;
    const explain = `${why()}\n--- baresip ---\n${b.output.slice(-2500)}`;
    expect(b.output, explain).toMatch(/Call established/);
    // The phone was shown the number it was about to call.
    expect(b.output, explain).toMatch(/Dial 0399990000|sip:0399990000@/);
    // The NGN got exactly one INVITE for the number (normalised by the dialplan), from the line's number.
    const invites = ngnInvites(NUMBER);
    expect(invites.length - invitesBefore, explain).toBe(1);
    expect(invites.at(-1)!.text ?? "", explain).toMatch(/\r\n(f|From):[^\r]*0312345678/i);
    const evs = events(from, callId);
    expect(evs.map((e) => e.type), explain).toEqual(["outgoing", "answered", "ended", "quality"]);
    expect(evs[0]).toMatchObject({ direction: "outbound", from: "802", to: NUMBER, extension: "802" });
    expect(evs[2]).toMatchObject({ hangup_by: "caller" });
    // The relay's figures: the phone's tone in, the NGN's echo back (RFC 3550 counts per side).
    const q = evs[3] as { caller: { packets: number; loss_pct: number }; callee: { packets: number; loss_pct: number } };
    console.info(`[mqtt-dial] relay figures of the dialled call: extension sent ${q.caller.packets} RTP packets (loss ${q.caller.loss_pct} %), the line ${q.callee.packets} (loss ${q.callee.loss_pct} %)`);
    expect(q.caller.packets, explain).toBeGreaterThan(100);
    expect(q.callee.packets, explain).toBeGreaterThan(100);
    // The NGN never had to send BYE itself: the gateway carried the phone's.
    expect(fromGateway("BYE").filter((e) => e.callId === invites.at(-1)!.callId), explain).toHaveLength(1);
    const line = sub.on(`${BASE}/line`, from).map((m) => (json(m).channels as Json[])[0]!.state as string);
    expect(line.filter((s, i) => i === 0 || line[i - 1] !== s), explain).toEqual(["dialing", "talking", "idle"]);
    const list = sub.on(`${BASE}/calls`, from).at(-1)!;
    expect((json(list).calls as Json[])[0]).toMatchObject({ call_id: callId, direction: "outbound", from: "802", to: NUMBER, result: "answered" });
  }, 60_000);

  it("hangup on a dialled call: BYE to the extension and to the NGN", async () => {
    // 801 (SIPp) answers and waits for BYE; it sends no RTP, so the call is hung up well before media.timeout_s.
    const callee = startSipp(lab, { scenario: "uas-answer.xml", host: phone.host, localAddr: phone.addr, remote: `${net.gatewayAddr}:5060`, dir, name: `${++seq}-mqdial-uas`, service: "801", timeoutS: 20 });
    await new Promise((r) => setTimeout(r, 300));
    const from = sub.messages.length;
    request(`{"extension": "801", "number": "${NUMBER}", "transaction": "dial-2"}`);
    const callId = ((json(await response(from, "dial-2")).data as Json).call_id as string) ?? "";
    await sub.waitFor((m) => m.topic === `${BASE}/event` && json(m).type === "answered" && json(m).call_id === callId, 10_000, from, "answered");
    const byesBefore = fromGateway("BYE").length;
    publish(lab, net.gatewayHost, `${BASE}/bridge/request/hangup`, `{"call_id": "${callId}", "transaction": "h"}`);
    const hung = await sub.waitFor((m) => m.topic === `${BASE}/bridge/response/hangup`, 5000, from, "hangup response");
    expect(json(hung), why()).toMatchObject({ status: "ok", data: { hung_up: 1 } });
    const p = await callee.done;
    expect(p.code, `${why()}\n${p.output.slice(-1500)}`).toBe(0);
    const inv = find(p.messages, "received", "INVITE")[0]!;
    expect(userOf(header(inv, "from"))).toBe(NUMBER);
    expect(header(inv, "from")).toMatch(/"Dial 0399990000"/);
    expect(find(p.messages, "received", "BYE"), why()).toHaveLength(1);
    await sub.waitFor((m) => m.topic === `${BASE}/event` && json(m).type === "ended" && json(m).call_id === callId, 5000, from, "ended");
    expect(events(from, callId).find((e) => e.type === "ended")).toMatchObject({ hangup_by: "gateway" });
    await new Promise((r) => setTimeout(r, 300));
    expect(fromGateway("BYE").length, why()).toBe(byesBefore + 1);
  }, 40_000);

  it("garbage and refused dial requests get error responses; nothing rings, nothing reaches the line", async () => {
    const from = sub.messages.length;
    const invitesBefore = fromGateway("INVITE").length;
    const cases: [string, string, RegExp][] = [
      ["g1", "{not json", /not valid JSON/],
      ["g2", `{"transaction": "g2"}`, /"number"/],
      ["g3", `{"number": "0399990000@evil.example", "extension": "801", "transaction": "g3"}`, /"number"/],
      ["g4", `{"number": ["0399990000"], "transaction": "g4"}`, /"number"/],
      ["g5", `{"number": "0399990000", "extension": "899", "transaction": "g5"}`, /no extension 899/],
      ["g6", `{"number": "0101234567", "extension": "801", "transaction": "g6"}`, /403 International Calls Not Allowed/],
      ["g7", `{"number": "0570123456", "extension": "801", "transaction": "g7"}`, /403 Premium-Rate Calls Not Allowed/],
      ["g8", `{"number": "12345", "extension": "801", "transaction": "g8"}`, /404 Not Found/],
      ["g9", `{"number": "0399990000", "transaction": "g9"}`, /"extension" is required/],
      ["g10", `{"number": "801", "extension": "801", "transaction": "g10"}`, /cannot dial itself/],
    ];
    for (const [, payload] of cases) request(payload);
    // g1 carries no transaction (it is not JSON): it is the one response without one.
    await sub.waitFor((m) => m.topic === `${BASE}/bridge/response/dial` && json(m).transaction === "g10", 5000, from, "the last response");
    const responses = sub.on(`${BASE}/bridge/response/dial`, from).map(json);
    expect(responses, why()).toHaveLength(cases.length);
    for (const [t, , msg] of cases) {
      const r = t === "g1" ? responses.find((x) => x.transaction === undefined) : responses.find((x) => x.transaction === t);
      expect(r, `${t}\n${why()}`).toMatchObject({ status: "error" });
      expect(String(r!.error), t).toMatch(msg);
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(sub.on(`${BASE}/event`, from), "no call started").toEqual([]);
    expect(fromGateway("INVITE").length).toBe(invitesBefore);
  }, 30_000);
});
