import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "./clock.js";
import { configSchema } from "./config/schema.js";
import { GatewayEvents, type VoicemailBox, type VoicemailEvent } from "./events.js";
import { silentLogger } from "./log.js";
import { GatewayVoicemail } from "./gateway-voicemail.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function rig(voicemail: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "hgw-gwvm-"));
  dirs.push(dir);
  const config = configSchema().parse({ state_dir: dir, voicemail: { enabled: true, ...voicemail } });
  const log = silentLogger();
  const events = new GatewayEvents(log);
  const seen: VoicemailEvent[] = [];
  const boxes: VoicemailBox[] = [];
  events.on("voicemail", (e) => seen.push(e));
  events.on("voicemail_box", (b) => boxes.push(b));
  const clock = new ManualClock(Date.parse("2026-12-06T10:00:00Z"));
  const gv = await GatewayVoicemail.create({
    config,
    relay: { bindEndpoint: async () => Promise.reject(new Error("not in this test")) },
    clock,
    log,
    events,
    nameOf: (n) => (n === "0312345678" ? "Dentist" : undefined),
    httpBase: "http://192.168.1.2:8580",
  });
  return { gv, seen, boxes, dir };
}

const recording = (from: string, seconds: number, name?: string, minute = 0) => ({
  from,
  name,
  called: "0501111111",
  callId: `call-${from}@ngn`,
  startedAt: Date.parse("2026-12-06T10:00:00Z") + minute * 60_000,
  result: { samples: new Int16Array(seconds * 8000), reason: "hangup" as const, durationS: seconds, stats: { accepted: 0, malformed: 0, foreign: 0, late: 0, implausible: 0, dtmfEvents: 0, concealedSamples: 0, overlaps: 0, gapsCapped: 0, droppedSource: 0, packetsSent: 0 } },
});

describe("GatewayVoicemail: a recording becomes a stored message, an event with its URL, and the box", () => {
  it("names the caller from the phonebook, links the message on the LAN listener, counts it new", async () => {
    const { gv, seen, boxes } = await rig();
    await gv.saveMessage(recording("0312345678", 2, "YAMADA"));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ type: "voicemail", call_id: "call-0312345678@ngn", from: "0312345678", name: "Dentist", to: "0501111111", duration_s: 2, reason: "hangup", at: "2026-12-06T10:00:00.000Z" });
    expect(seen[0]!.url).toMatch(new RegExp(`^http://192\\.168\\.1\\.2:8580/voicemail/${seen[0]!.id}\\.wav\\?token=[A-Za-z0-9_-]{22}$`));
    expect(seen[0]!.file).toBe(`${seen[0]!.id}.wav`);
    expect(gv.status).toMatchObject({ new: 1, total: 1, last: { id: seen[0]!.id, from: "0312345678", name: "Dentist", url: seen[0]!.url, heard: false } });
    expect(boxes.at(-1)).toEqual(gv.status);
    gv.close();
  });

  it("a caller not in the phonebook keeps the line's name; mark-all-heard empties the count", async () => {
    const { gv, seen } = await rig({ base_url: "https://ha.example/" });
    await gv.saveMessage(recording("0398765432", 1, "Yamada"));
    expect(seen[0]).toMatchObject({ name: "Yamada" });
    expect(seen[0]!.url.startsWith("https://ha.example/voicemail/")).toBe(true);
    expect(gv.markAllHeard()).toBe(1);
    for (let i = 0; i < 100 && gv.status.new !== 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(gv.status).toMatchObject({ new: 0, total: 1, last: { heard: true } });
    gv.close();
  });

  it("prunes past voicemail.max_messages, oldest first", async () => {
    const { gv } = await rig({ max_messages: 2 });
    for (const [i, n] of ["0311111111", "0322222222", "0333333333"].entries()) await gv.saveMessage(recording(n, 1, undefined, i));
    expect(gv.status).toMatchObject({ total: 2, last: { from: "0333333333" } });
    expect((await gv.store.list()).map((m) => m.from)).toEqual(["0322222222", "0333333333"]);
    gv.close();
  });
});
