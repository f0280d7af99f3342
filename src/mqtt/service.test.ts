import { beforeEach, describe, expect, it, vi } from "vitest";
import { fakeClients, fakeMqttModule, type FakeMqttClient } from "../../test/support/mqtt/fake-client.js";
import { ManualClock } from "../clock.js";
import { configSchema } from "../config/schema.js";
import { GatewayEvents, type CallEvent } from "../events.js";
import type { GatewayCommands, GatewayStatus } from "../gateway-api.js";
import { silentLogger } from "../log.js";
import { MqttService, RECONNECT_MAX_MS, RECONNECT_MIN_MS } from "./service.js";

vi.mock("mqtt", () => fakeMqttModule());

function status(over: Partial<GatewayStatus> = {}): GatewayStatus {
  return {
    version: "0.1.0",
    started_at: "2026-12-06T10:00:00.000Z",
    uptime_s: 5,
    trunk: { state: "registered", number: "0501111111" },
    line: [{ channel: 1, state: "idle", since: "2026-12-06T10:00:00.000Z" }],
    extensions: [{ number: "801", registered: true, name: "Smartphone" }],
    calls: [],
    recent_calls: [],
    missed: { count: 2, since: "2026-12-06T09:00:00.000Z" },
    dnd: false,
    ...over,
  };
}

async function rig(mqtt: Record<string, unknown> = {}) {
  const cfg = configSchema().parse({ mqtt: { server: "mqtt://broker.invalid:1883", password: "s3cret", username: "gw", queue_max: 3, ...mqtt } });
  const log = silentLogger();
  const warn = vi.spyOn(log, "warn");
  const events = new GatewayEvents(log);
  const done: string[] = [];
  const commands: GatewayCommands = { setDnd: (on) => done.push(`dnd ${on}`), hangup: () => 0, resetMissed: () => done.push("reset"), dial: ({ number }) => (done.push(`dial ${number}`), { call_id: "c9", extension: "801", number }) };
  const clock = new ManualClock(0);
  const svc = new MqttService({ config: cfg.mqtt, trunk: { enabled: true, channels: 1 }, events, status: () => status(), commands, version: "0.1.0", log, clock });
  await svc.start();
  const client = fakeClients.at(-1) as FakeMqttClient;
  return { svc, client, events, done, warn, clock };
}

const ev = (type: CallEvent["type"], call_id = "c1"): CallEvent => ({ type, call_id, direction: "inbound", from: "0312345678", to: "0501111111", at: "2026-12-06T10:00:01.000Z" });

beforeEach(() => {
  fakeClients.length = 0;
});

describe("MqttService", () => {
  it("the answering machine: a new message is a voicemail event, the box a retained topic Home Assistant's sensor reads", async () => {
    const { client, events } = await rig();
    client.up();
    client.take();
    const msg = { id: "20261206T100000Z-ab12cd34", from: "0312345678", name: "Dentist", to: "0501111111", duration_s: 23.4, file: "20261206T100000Z-ab12cd34.wav", url: "http://192.168.1.2:8580/voicemail/20261206T100000Z-ab12cd34.wav?token=t", at: "2026-12-06T10:00:00.000Z" };
    events.emit("voicemail", { type: "voicemail", call_id: "a84b4c76e66710@ngn", reason: "hangup", ...msg });
    events.emit("voicemail_box", { new: 1, total: 3, last: { ...msg, heard: false } });
    const pubs = client.take();
    const ev = pubs.find((p) => p.topic === "hikari-gw/event")!;
    expect(ev.retain).toBe(false);
    expect(JSON.parse(ev.payload)).toMatchObject({ type: "voicemail", event_type: "voicemail", from: "0312345678", name: "Dentist", duration_s: 23.4, url: msg.url });
    const box = pubs.find((p) => p.topic === "hikari-gw/voicemail")!;
    expect(box.retain).toBe(true);
    expect(JSON.parse(box.payload)).toEqual({ new: 1, total: 3, last_id: msg.id, last_from: "0312345678", last_name: "Dentist", last_duration_s: 23.4, last_at: msg.at, last_url: msg.url, last_heard: false });
  });

  it("connects with the LWT offline retained on bridge/state, and publishes online plus every retained state on connect", async () => {
    const { client } = await rig();
    expect(client.options.will).toMatchObject({ topic: "hikari-gw/bridge/state", retain: true });
    expect(String((client.options.will as { payload: Buffer }).payload)).toBe("offline");
    client.up();
    const pubs = client.take();
    expect(pubs[0]).toEqual({ topic: "hikari-gw/bridge/state", payload: "online", retain: true });
    const retained = pubs.filter((p) => p.retain).map((p) => p.topic);
    for (const t of ["bridge/info", "trunk", "line", "extensions/801", "extensions", "calls", "missed", "dnd"]) expect(retained).toContain(`hikari-gw/${t}`);
    expect(retained.filter((t) => t.startsWith("homeassistant/")).length).toBeGreaterThan(10);
    const info = pubs.find((p) => p.topic === "hikari-gw/bridge/info")!.payload;
    expect(info).not.toContain("s3cret");
    expect(client.subscriptions).toContain("hikari-gw/bridge/request/+");
    expect(client.subscriptions).toContain("homeassistant/status");
  });

  it("events while the broker is away wait (bounded, oldest dropped and counted) and go out in order on reconnect, with retained state first", async () => {
    const { client, events, warn } = await rig();
    client.up();
    client.down();
    client.take();
    for (const id of ["1", "2", "3", "4", "5"]) events.emit("call", ev("missed", id));
    expect(client.published).toEqual([]);
    client.up();
    const pubs = client.take();
    const evs = pubs.filter((p) => p.topic === "hikari-gw/event").map((p) => JSON.parse(p.payload).call_id);
    expect(evs).toEqual(["3", "4", "5"]);
    expect(pubs.findIndex((p) => p.topic === "hikari-gw/bridge/state")).toBeLessThan(pubs.findIndex((p) => p.topic === "hikari-gw/event"));
    expect(pubs.every((p) => p.topic !== "hikari-gw/event" || !p.retain)).toBe(true);
    expect(warn.mock.calls.some(([o, m]) => String(m).includes("dropped") && (o as { dropped: number }).dropped === 2)).toBe(true);
  });

  it("reconnect backoff doubles up to its cap and starts over once connected", async () => {
    const { client } = await rig();
    const periods: number[] = [];
    for (let i = 0; i < 8; i++) {
      client.down();
      periods.push(client.options.reconnectPeriod!);
    }
    expect(periods[0]).toBe(2 * RECONNECT_MIN_MS);
    expect(periods.at(-1)).toBe(RECONNECT_MAX_MS);
    client.up();
    expect(client.options.reconnectPeriod).toBe(RECONNECT_MIN_MS);
  });

  it("a request gets a response with its transaction; garbage gets an error response and no action", async () => {
    const { client, done } = await rig();
    client.up();
    client.take();
    client.deliver("hikari-gw/bridge/request/dnd", '{"value":true,"transaction":"abc"}');
    client.deliver("hikari-gw/bridge/request/dnd", "\u0000\u00ff{{{");
    client.deliver("hikari-gw/bridge/request/format_disk", "{}");
    const res = client.take().filter((p) => p.topic.startsWith("hikari-gw/bridge/response/"));
    expect(res.map((p) => [p.topic, JSON.parse(p.payload).status, p.retain])).toEqual([
      ["hikari-gw/bridge/response/dnd", "ok", false],
      ["hikari-gw/bridge/response/dnd", "error", false],
      ["hikari-gw/bridge/response/format_disk", "error", false],
    ]);
    expect(JSON.parse(res[0]!.payload).transaction).toBe("abc");
    expect(done).toEqual(["dnd true"]);
  });

  it("Home Assistant coming online gets the discovery again", async () => {
    const { client } = await rig();
    client.up();
    client.take();
    client.deliver("homeassistant/status", "online");
    expect(client.take().filter((p) => p.topic.startsWith("homeassistant/") && p.topic.endsWith("/config")).length).toBeGreaterThan(10);
    client.deliver("homeassistant/status", "offline");
    expect(client.take()).toEqual([]);
  });

  it("a retained discovery config of this node that is no longer ours is cleared, only during the scan after connecting", async () => {
    const { client, clock } = await rig();
    client.up();
    client.take();
    client.deliver("homeassistant/binary_sensor/hikari-gw/extension_899_registered/config", '{"name":"gone"}', true);
    client.deliver("homeassistant/sensor/hikari-gw/missed_calls/config", '{"name":"ours"}', true);
    expect(client.take()).toEqual([{ topic: "homeassistant/binary_sensor/hikari-gw/extension_899_registered/config", payload: "", retain: true }]);
    clock.advance(6_000);
    expect(client.subscriptions).not.toContain("homeassistant/+/hikari-gw/+/config");
  });

  it("an ended call with relayed media also gives a quality event and the retained last-call quality", async () => {
    const { client, events } = await rig();
    client.up();
    client.take();
    const q = { packets: 500, lost: 5, loss_pct: 0.99, jitter_ms: 1.5 };
    events.emit("call", { ...ev("ended"), duration_s: 10, hangup_by: "caller", quality: { caller: q, callee: q } });
    const pubs = client.take();
    expect(pubs.filter((p) => p.topic === "hikari-gw/event").map((p) => JSON.parse(p.payload).type)).toEqual(["ended", "quality"]);
    expect(pubs.find((p) => p.topic === "hikari-gw/quality")?.retain).toBe(true);
  });

  it("stop: offline retained, then disconnect", async () => {
    const { client, svc } = await rig();
    client.up();
    client.take();
    await svc.stop();
    expect(client.take()).toEqual([{ topic: "hikari-gw/bridge/state", payload: "offline", retain: true }]);
    expect(client.ended).toBe(true);
  });
});
