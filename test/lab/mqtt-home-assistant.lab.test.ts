/**
 * MQTT for Home Assistant against real parts: the built gateway (`node dist/cli.js run`) in
 * the SIP lab's gateway namespace, Debian's mosquitto beside it, mosquitto_sub as the
 * subscriber and mosquitto_pub for requests, SIPp as the phones 801 and 802. Then the same
 * with the embedded broker (aedes), and the demo config `npm start` runs.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labReady } from "./env.js";
import { Lab } from "./netns.js";
import { gatewayBuilt, REPO, startGateway, CLI, type GatewayProcess } from "./sip/gateway-process.js";
import { credentials, runSipp, startSipp, type SippResult, type SippRun } from "./sip/sipp.js";
import { buildSipLab, type Phone, type SipLab } from "./sip/topology.js";
import { summarize } from "./sip/trace.js";
import { publish, startMosquitto, subscribe, type Broker, type Message, type Subscriber } from "./mqtt/mosquitto.js";
import { checkDiscovery } from "../support/mqtt/ha-discovery-check.js";

const ready = labReady("mqtt lab", ["sipp", "mosquitto", "mosquitto_sub", "mosquitto_pub", "ss", "nft"]);
const BASE = "hikari-gw";
const TOPICS = [`${BASE}/#`, "homeassistant/#"];

type Json = Record<string, unknown>;
const json = (m: Message) => (m.json ?? {}) as Json;
const isEvent = (type: string) => (m: Message) => m.topic === `${BASE}/event` && json(m).type === type;

describe.skipIf(!ready)("MQTT / Home Assistant with mosquitto and the embedded broker", () => {
  let lab: Lab;
  let net: SipLab;
  let dir: string;
  let gw: GatewayProcess;
  let broker: Broker;
  let sub: Subscriber;
  let a: Phone;
  let b: Phone;
  let seq = 0;

  const gatewayOpts = (mqtt: string) => ({
    listen: net.gatewayAddr,
    port: 5060,
    extensions: net.phones.map((p, i) => ({ number: p.number, password: p.password, name: `Phone${i + 1}` })),
    ringTimeoutS: 10,
    stateDir: join(dir, "state"),
    rtpPorts: "50000-50999",
    mqtt,
  });

  async function stopGateway(): Promise<void> {
    const child = gw.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.once("exit", () => {
        clearTimeout(t);
        resolve();
      });
      child.kill("SIGTERM");
    });
  }

  beforeAll(async () => {
    if (!gatewayBuilt()) throw new Error("dist/cli.js missing: run `npm run build` (npm run test:lab does)");
    lab = new Lab("hgwmq");
    net = buildSipLab(lab, ["801", "802"], { subnet: "198.18.22", vethTag: "hmq", dropUnreachable: true });
    [a, b] = net.phones as [Phone, Phone];
    dir = mkdtempSync(join(tmpdir(), "hgw-mqtt-lab-"));
    broker = await startMosquitto(lab, net.gatewayHost, dir);
    sub = await subscribe(lab, net.gatewayHost, TOPICS);
    gw = await startGateway(lab, net.gatewayHost, dir, gatewayOpts("{ server: 'mqtt://127.0.0.1:1883' }"));
  });

  afterAll(async () => {
    sub?.stop();
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const remote = () => `${net.gatewayAddr}:5060`;
  const why = (...runs: [string, SippResult][]) =>
    runs.map(([who, r]) => `--- ${who} (exit ${r.code}) ---\n${summarize(r.messages)}\n${r.code === 0 ? "" : r.output.slice(-1500)}`).join("\n") + `\n--- gateway log ---\n${gw.lines.slice(-25).join("\n")}\n--- mqtt ---\n${sub.tail()}`;

  function sipp(phone: Phone, scenario: string, more: Partial<SippRun> = {}): SippRun {
    return { scenario, host: phone.host, localAddr: phone.addr, remote: remote(), dir, name: `${++seq}-${phone.number}-${scenario.replace(".xml", "")}`, ...more };
  }

  async function register(phone: Phone): Promise<void> {
    const r = await runSipp(lab, sipp(phone, "reg.xml", { inf: [credentials(phone.number, phone.password)], keys: { expires: "3600" }, authUri: net.gatewayAddr, timeoutS: 10 }));
    expect(r.code, why([`register ${phone.number}`, r])).toBe(0);
  }

  async function listening(phone: Phone): Promise<void> {
    for (let i = 0; i < 50; i++) {
      if (lab.exec(phone.host, "ss", ["-Hlun"]).includes(`${phone.addr}:5060`)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`SIPp in ${phone.host} never bound ${phone.addr}:5060`);
  }

  /** 801 calls 802; returns both SIPp results once both finished. */
  function call(calleeScenario: string, callerScenario: string, opts: { callerPauseMs?: number; timeoutS?: number } = {}) {
    const callee = startSipp(lab, sipp(b, calleeScenario, { service: b.number, timeoutS: opts.timeoutS ?? 20 }));
    const done = listening(b).then(async () => {
      const caller = await runSipp(lab, sipp(a, callerScenario, { inf: [credentials(a.number, a.password, b.number)], authUri: `${b.number}@${net.gatewayAddr}`, pauseMs: opts.callerPauseMs, timeoutS: opts.timeoutS ?? 20 }));
      const calleeResult = await callee.done;
      return { caller, callee: calleeResult, why: why(["caller 801", caller], ["callee 802", calleeResult]) };
    });
    return done;
  }

  it("bridge/state online (retained), bridge/info without secrets, and every discovery config passes Home Assistant's schemas", async () => {
    await sub.waitFor((m) => m.topic === `${BASE}/bridge/state` && m.payload === "online");
    const info = await sub.waitFor((m) => m.topic === `${BASE}/bridge/info`);
    expect(json(info)).toMatchObject({ version: expect.any(String), config: { trunk_enabled: false, extensions: [{ number: "801", name: "Phone1" }, { number: "802", name: "Phone2" }] } });
    await sub.waitFor((m) => m.topic === "homeassistant/device_automation/hikari-gw/call_missed/config");
    const configs = sub.messages.filter((m) => m.topic.startsWith("homeassistant/") && m.topic.endsWith("/config"));
    expect(configs.length).toBe(17); // 1 line channel (trunk.channels), 2 extensions, the Dial text
    for (const c of configs) expect(checkDiscovery(c.topic, json(c)), c.topic).toEqual([]);
    // A late subscriber (Home Assistant starting after the gateway) gets all of it from the broker's store.
    const late = await subscribe(lab, net.gatewayHost, TOPICS);
    try {
      await late.waitFor((m) => m.topic === "homeassistant/event/hikari-gw/call/config");
      for (const t of ["bridge/state", "bridge/info", "trunk", "line", "calls", "missed", "dnd", "extensions/801"]) expect(late.on(`${BASE}/${t}`)[0]?.retained, t).toBe(true);
    } finally {
      late.stop();
    }
  });

  it("phones registering show up on extensions/<n> and the registered count", async () => {
    const from = sub.messages.length;
    await register(a);
    await register(b);
    const ext = await sub.waitFor((m) => m.topic === `${BASE}/extensions/802` && json(m).registered === true, 10_000, from);
    expect(json(ext)).toMatchObject({ number: "802", name: "Phone2", contact: expect.stringContaining(b.addr) });
    await sub.waitFor((m) => m.topic === `${BASE}/extensions` && json(m).registered === 2, 10_000, from);
  });

  it("a call 801 → 802: incoming (for 802), answered (by 802), ended (caller hung up, duration), quality, in order, never retained; the call list says answered", async () => {
    const from = sub.messages.length;
    const r = await call("uas-answer.xml", "uac-call.xml", { callerPauseMs: 1200 });
    expect(r.caller.code, r.why).toBe(0);
    expect(r.callee.code, r.why).toBe(0);
    await sub.waitFor(isEvent("quality"), 10_000, from, "the quality event");
    const events = sub.on(`${BASE}/event`, from);
    expect(events.map((m) => json(m).type), r.why).toEqual(["incoming", "answered", "ended", "quality"]);
    expect(events.every((m) => !m.retained)).toBe(true);
    const ids = new Set(events.map((m) => json(m).call_id));
    expect(ids.size).toBe(1);
    expect(json(events[0]!)).toMatchObject({ event_type: "incoming", direction: "internal", from: "801", from_name: "Phone1", to: "802", to_name: "Phone2", at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) });
    expect(json(events[1]!)).toMatchObject({ extension: "802" });
    expect(json(events[2]!)).toMatchObject({ type: "ended", hangup_by: "caller", extension: "802", duration_s: expect.any(Number) });
    expect(json(events[2]!).duration_s as number).toBeGreaterThanOrEqual(1);
    // The relay's RFC 3550 counts for each side (SIPp sends no RTP here: zero packets, no loss).
    expect(json(events[3]!)).toMatchObject({ caller: { packets: 0, loss_pct: 0 }, callee: { packets: 0, loss_pct: 0 } });
    expect(json(events[2]!).quality).toEqual({ caller: json(events[3]!).caller, callee: json(events[3]!).callee });
    const list = await sub.waitFor((m) => m.topic === `${BASE}/calls` && (json(m).calls as Json[]).length > 0, 5000, from);
    expect((json(list).calls as Json[])[0]).toMatchObject({ direction: "internal", from: "801", from_name: "Phone1", to: "802", extension: "802", result: "answered" });
  });

  it("request/response with a transaction: dnd on is answered, retained, persisted; garbage changes nothing and the gateway lives", async () => {
    const from = sub.messages.length;
    publish(lab, net.gatewayHost, `${BASE}/bridge/request/dnd`, '{"value": true, "transaction": "lab-1"}');
    const res = await sub.waitFor((m) => m.topic === `${BASE}/bridge/response/dnd`, 5000, from);
    expect(json(res)).toEqual({ status: "ok", data: { value: true }, transaction: "lab-1" });
    await sub.waitFor((m) => m.topic === `${BASE}/dnd` && json(m).dnd === true, 5000, from);
    expect(JSON.parse(readFileSync(join(dir, "state", "gateway-state.json"), "utf8")).dnd).toBe(true);
    const before = sub.messages.length;
    for (const [cmd, payload] of [
      ["dnd", "{{{ not json"],
      ["dnd", '{"value": "maybe", "transaction": "lab-2"}'],
      ["reboot", "{}"],
      ["hangup", '{"call_id": "no-such-call"}'],
      ["missed_reset", "[1,2,3]"],
    ]) publish(lab, net.gatewayHost, `${BASE}/bridge/request/${cmd}`, payload!);
    await sub.waitFor((m) => m.topic === `${BASE}/bridge/response/missed_reset`, 5000, before);
    const responses = sub.messages.slice(before).filter((m) => m.topic.startsWith(`${BASE}/bridge/response/`));
    expect(responses.map((m) => [m.topic.split("/").pop(), json(m).status])).toEqual([
      ["dnd", "error"],
      ["dnd", "error"],
      ["reboot", "error"],
      ["hangup", "error"],
      ["missed_reset", "error"],
    ]);
    expect(json(responses[1]!).transaction).toBe("lab-2");
    expect(gw.child.exitCode).toBeNull();
    expect(sub.messages.slice(before).filter((m) => m.topic === `${BASE}/dnd`)).toEqual([]);
    publish(lab, net.gatewayHost, `${BASE}/bridge/request/dnd`, '{"value": false}');
    await sub.waitFor((m) => m.topic === `${BASE}/dnd` && json(m).dnd === false, 5000, before);
  });

  it("hangup through request/response ends an answered call: both phones get BYE", async () => {
    const from = sub.messages.length;
    const running = call("uas-answer.xml", "uac-call-remote-bye.xml", { timeoutS: 20 });
    const answered = await sub.waitFor(isEvent("answered"), 15_000, from, "answered");
    publish(lab, net.gatewayHost, `${BASE}/bridge/request/hangup`, JSON.stringify({ call_id: json(answered).call_id, transaction: "h-1" }));
    const r = await running;
    expect(r.caller.code, r.why).toBe(0);
    expect(r.callee.code, r.why).toBe(0);
    const res = await sub.waitFor((m) => m.topic === `${BASE}/bridge/response/hangup`, 5000, from);
    expect(json(res)).toMatchObject({ status: "ok", data: { hung_up: 1 }, transaction: "h-1" });
    const ended = await sub.waitFor(isEvent("ended"), 5000, from);
    expect(json(ended)).toMatchObject({ hangup_by: "gateway", reason: "hung up by command" });
  });

  it("the broker restarted mid-call: the call carries on, the retained state is published again, the call's end still arrives", async () => {
    const from = sub.messages.length;
    const running = call("uas-answer.xml", "uac-call.xml", { callerPauseMs: 5000, timeoutS: 30 });
    await sub.waitFor(isEvent("answered"), 15_000, from, "answered");
    sub.stop();
    await broker.stop();
    broker = await startMosquitto(lab, net.gatewayHost, dir);
    sub = await subscribe(lab, net.gatewayHost, TOPICS);
    // No persistence: whatever is retained now, the gateway sent again after reconnecting.
    await sub.waitFor((m) => m.topic === `${BASE}/bridge/state` && m.payload === "online", 20_000, 0, "bridge/state republished");
    await sub.waitFor((m) => m.topic === `${BASE}/calls`, 5000);
    await sub.waitFor((m) => m.topic === "homeassistant/switch/hikari-gw/dnd/config", 5000);
    const r = await running;
    expect(r.caller.code, r.why).toBe(0);
    expect(r.callee.code, r.why).toBe(0);
    await sub.waitFor(isEvent("ended"), 20_000, 0, "the ended event after the restart");
  });

  it("broker down: calls are unaffected and their events arrive in order once it is back", async () => {
    sub.stop();
    await broker.stop();
    // The check subscribes with a persistent session on a broker that keeps it across its
    // restart: the gateway may reconnect and flush its queue before a new subscriber is in
    // (it did, 1 run in 3), and the events are not retained. The broker holds them for the session.
    const persistDir = join(dir, "mosquitto-db");
    mkdirSync(persistDir, { recursive: true });
    broker = await startMosquitto(lab, net.gatewayHost, dir, 1883, { persistDir });
    await (await subscribe(lab, net.gatewayHost, [`${BASE}/event`], {}, "lab-events")).stopped();
    await broker.stop();
    const started = Date.now();
    const r = await call("uas-answer.xml", "uac-call.xml", { callerPauseMs: 500 });
    expect(r.caller.code, r.why).toBe(0);
    expect(r.callee.code, r.why).toBe(0);
    // The SIP side did not wait on MQTT: a short call takes its own time.
    expect(Date.now() - started).toBeLessThan(8_000);
    broker = await startMosquitto(lab, net.gatewayHost, dir, 1883, { persistDir });
    sub = await subscribe(lab, net.gatewayHost, [`${BASE}/event`], {}, "lab-events");
    await sub.waitFor(isEvent("quality"), 40_000, 0, "queued events after the broker came back");
    expect(sub.on(`${BASE}/event`).map((m) => json(m).type)).toEqual(["incoming", "answered", "ended", "quality"]);
  });

  it("embedded broker (aedes): no anonymous access, credentials work, a call's events and a command round-trip", async () => {
    sub.stop();
    await broker.stop();
    await stopGateway();
    gw = await startGateway(lab, net.gatewayHost, dir, gatewayOpts("{ server: embedded, listen: 127.0.0.1, port: 1884, username: ha, password: lab-pass }"));
    for (let i = 0; i < 50 && !lab.exec(net.gatewayHost, "ss", ["-Hltn"]).includes("127.0.0.1:1884"); i++) await new Promise((r) => setTimeout(r, 100));
    let anonymousRefused = false;
    try {
      lab.exec(net.gatewayHost, "mosquitto_sub", ["-h", "127.0.0.1", "-p", "1884", "-V", "mqttv311", "-t", `${BASE}/#`, "-C", "1", "-W", "3"], { timeoutMs: 6000 });
    } catch {
      anonymousRefused = true;
    }
    expect(anonymousRefused, "an anonymous client was let in").toBe(true);
    const auth = { port: 1884, username: "ha", password: "lab-pass" };
    const s = await subscribe(lab, net.gatewayHost, TOPICS, auth);
    try {
      await s.waitFor((m) => m.topic === `${BASE}/bridge/state` && m.payload === "online" && m.retained);
      await s.waitFor((m) => m.topic === "homeassistant/event/hikari-gw/call/config");
      await register(a);
      await register(b);
      const r = await call("uas-answer.xml", "uac-call.xml", { callerPauseMs: 500 });
      expect(r.caller.code, r.why).toBe(0);
      await s.waitFor(isEvent("quality"), 10_000);
      expect(s.on(`${BASE}/event`).map((m) => json(m).type)).toEqual(["incoming", "answered", "ended", "quality"]);
      publish(lab, net.gatewayHost, `${BASE}/bridge/request/missed_reset`, '{"transaction": 42}', auth);
      const res = await s.waitFor((m) => m.topic === `${BASE}/bridge/response/missed_reset`);
      expect(json(res)).toMatchObject({ status: "ok", transaction: 42 });
    } finally {
      s.stop();
    }
    await stopGateway();
  });

  it("npm start's config (config/default.yaml) runs the embedded broker on 127.0.0.1:1883 and publishes to it", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "hgw-npm-start-"));
    try {
      const child = lab.spawn(net.gatewayHost, process.execPath, [CLI, "run", "--config", join(REPO, "config", "default.yaml")], { cwd });
      let out = "";
      child.stdout?.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-3000)));
      for (let i = 0; i < 100 && !lab.exec(net.gatewayHost, "ss", ["-Hltn"]).includes("127.0.0.1:1883"); i++) await new Promise((r) => setTimeout(r, 100));
      const s = await subscribe(lab, net.gatewayHost, [`${BASE}/#`]);
      try {
        await s.waitFor((m) => m.topic === `${BASE}/bridge/state` && m.payload === "online", 10_000, 0, `bridge/state from npm start's config\n${out}`);
        await s.waitFor((m) => m.topic === `${BASE}/extensions/801`);
      } finally {
        s.stop();
        child.kill("SIGTERM");
      }
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
