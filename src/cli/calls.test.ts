import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../log.js";
import { startControlServer, type FollowEvents } from "../control.js";
import type { CallRecord } from "../gateway-api.js";
import { callsCommand, formatCalls, formatDuration } from "./calls.js";
import { eventsCommand, formatEvent } from "./events.js";

const calls: CallRecord[] = [
  { call_id: "b", direction: "inbound", from: "0312345678", from_name: "Grandma", to: "0501234567", extension: "801", start: "2026-12-06T03:40:00.000Z", duration_s: 754, result: "answered" },
  { call_id: "a", direction: "inbound", from: "anonymous", to: "0501234567", start: "2026-12-06T02:00:00.000Z", duration_s: 0, result: "missed" },
];

describe("hikari-gw calls / events", () => {
  let dir: string | undefined;
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("prints the running gateway's call list as a table, or as JSON", async () => {
    dir = mkdtempSync(join(tmpdir(), "hikari-cli-"));
    server = await startControlServer(dir, (req) => (req.command === "calls" ? calls : { error: "no" }), silentLogger());
    let out = "";
    expect(await callsCommand(dir, false, (s) => (out += s), () => undefined)).toBe(0);
    expect(out.split("\n")).toEqual([
      "START                 DIRECTION  FROM                  TO          EXT  DURATION  RESULT",
      "2026-12-06 03:40:00Z  inbound    Grandma (0312345678)  0501234567  801  12:34     answered",
      "2026-12-06 02:00:00Z  inbound    anonymous             0501234567  -    0:00      missed",
      "",
    ]);
    out = "";
    expect(await callsCommand(dir, true, (s) => (out += s), () => undefined)).toBe(0);
    expect(JSON.parse(out)).toEqual(calls);
  });

  it("says so when the gateway is not running, and on an error answer", async () => {
    dir = mkdtempSync(join(tmpdir(), "hikari-cli-"));
    await expect(callsCommand(dir, false, () => undefined, () => undefined)).rejects.toThrow(/is it running/);
    let err = "";
    expect(await eventsCommand(dir, false, () => undefined, (s) => (err += s))).toBe(1);
    expect(err).toMatch(/^events: cannot reach the gateway .*is it running/);
    server = await startControlServer(dir, () => ({ error: "nope" }), silentLogger());
    err = "";
    expect(await callsCommand(dir, false, () => undefined, (s) => (err += s))).toBe(1);
    expect(err).toBe("calls: nope\n");
  });

  it("events --json writes the gateway's lines as they come, until interrupted", async () => {
    dir = mkdtempSync(join(tmpdir(), "hikari-cli-"));
    let push: ((e: string, d: unknown) => void) | undefined;
    const follow: FollowEvents = (p) => ((push = p), () => (push = undefined));
    server = await startControlServer(dir, () => ({}), silentLogger(), { follow });
    let out = "";
    const stop = new AbortController();
    const done = eventsCommand(dir, true, (s) => (out += s), () => undefined, stop.signal);
    for (let i = 0; i < 400 && !push; i++) await new Promise((r) => setTimeout(r, 5));
    push!("missed", { count: 1 });
    for (let i = 0; i < 400 && !out; i++) await new Promise((r) => setTimeout(r, 5));
    stop.abort();
    expect(await done).toBe(0);
    expect(out).toBe('{"event":"missed","data":{"count":1}}\n');
  });

  it("formats durations and readable event lines", () => {
    expect(formatCalls([])).toBe("no calls yet\n");
    expect(formatDuration(59)).toBe("0:59");
    expect(formatDuration(3725)).toBe("1:02:05");
    const at = new Date(2026, 11, 6, 12, 34, 56);
    expect(formatEvent({ event: "call", data: { type: "ended", from: "0312345678", from_name: "Grandma", to: "801", extension: "801", duration_s: 12, hangup_by: "callee", reason: "callee hung up" } }, at)).toBe(
      "12:34:56 call ended Grandma (0312345678) -> 801 ext 801 12 s hung up by callee (callee hung up)\n",
    );
    expect(formatEvent({ event: "line", data: { channel: 2, state: "ringing", caller: "0312345678", since: "" } }, at)).toBe("12:34:56 line channel 2 ringing 0312345678\n");
    expect(formatEvent({ event: "dnd", data: true }, at)).toBe("12:34:56 dnd true\n");
    expect(formatEvent({ dropped: 3 }, at)).toBe("12:34:56 (3 event(s) dropped: this terminal read too slowly)\n");
  });
});
