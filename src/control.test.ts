import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Server } from "node:net";
import { ManualClock } from "./clock.js";
import { silentLogger } from "./log.js";
import { Lockout } from "./pbx/lockout.js";
import { createConnection } from "node:net";
import { controlSocketPath, followControl, parseControlRequest, queryControl, queryStatus, startControlServer, type ControlHandler, type FollowEvents, type FollowLine } from "./control.js";

/** A follow source the test pushes into by hand, counting its subscribers. */
function hub() {
  const subs = new Set<(event: string, data: unknown) => void>();
  const follow: FollowEvents = (push) => {
    subs.add(push);
    return () => subs.delete(push);
  };
  return { follow, subs, push: (event: string, data: unknown) => subs.forEach((p) => p(event, data)) };
}

/** Waits (on socket I/O, bounded) until `cond` holds. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

describe("control socket", () => {
  let dir: string | undefined;
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("parses status and unblock requests, and refuses anything else with a message", () => {
    expect(parseControlRequest('{"command":"status"}')).toEqual({ command: "status" });
    expect(parseControlRequest("{}")).toEqual({ command: "status" });
    expect(parseControlRequest('{"command":"status","gc":true}')).toEqual({ command: "status", gc: true });
    expect(parseControlRequest('{"command":"status","gc":"yes"}')).toEqual({ command: "status" });
    expect(parseControlRequest('{"command":"unblock","target":"198.18.0.9"}')).toEqual({ command: "unblock", target: "198.18.0.9" });
    expect(() => parseControlRequest('{"command":"unblock"}')).toThrow(/target/);
    expect(() => parseControlRequest(`{"command":"unblock","target":"${"x".repeat(200)}"}`)).toThrow(/target/);
    expect(() => parseControlRequest('{"command":"reboot"}')).toThrow(/unknown command/);
  });

  it("parses the GatewayCommands MQTT also calls: calls, dnd, hangup, missed_reset, each checked", () => {
    expect(parseControlRequest('{"command":"calls"}')).toEqual({ command: "calls" });
    expect(parseControlRequest('{"command":"missed_reset"}')).toEqual({ command: "missed_reset" });
    expect(parseControlRequest('{"command":"dnd","value":true}')).toEqual({ command: "dnd", value: true });
    expect(() => parseControlRequest('{"command":"dnd","value":"yes"}')).toThrow(/dnd/);
    expect(parseControlRequest('{"command":"hangup","call_id":"all"}')).toEqual({ command: "hangup", call_id: "all" });
    expect(() => parseControlRequest('{"command":"hangup"}')).toThrow(/call_id/);
    expect(parseControlRequest('{"command":"dial","number":"0312345678"}')).toEqual({ command: "dial", number: "0312345678" });
    expect(parseControlRequest('{"command":"dial","number":"0312345678","extension":"801"}')).toEqual({ command: "dial", number: "0312345678", extension: "801" });
    expect(() => parseControlRequest('{"command":"dial"}')).toThrow(/number/);
    expect(() => parseControlRequest('{"command":"dial","number":"0312345678","extension":"x"}')).toThrow(/extension/);
  });

  it("unblock reaches the running gateway's lockout and answers with what it lifted", async () => {
    dir = mkdtempSync(join(tmpdir(), "hikari-control-"));
    const clock = new ManualClock(1_000_000);
    const lockout = new Lockout({ clock, log: silentLogger() });
    for (let i = 0; i < 5; i++) lockout.recordFailure("801", "198.18.0.9");
    const handler: ControlHandler = (req) => (req.command === "unblock" ? { lifted: lockout.unblock(req.target) } : { ok: true });
    server = await startControlServer(dir, handler, silentLogger());
    expect(await queryStatus(dir)).toEqual({ ok: true });
    expect(await queryControl(dir, { command: "unblock", target: "801" })).toEqual({ lifted: [{ address: "198.18.0.9", extension: "801", until: 1_300_000 }] });
    expect(lockout.check("801", "198.18.0.9").locked).toBe(false);
    expect(await queryControl(dir, { command: "unblock", target: "801" })).toEqual({ lifted: [] });
  });

  it("events: one JSON line per event until the client leaves, then it is unsubscribed", async () => {
    dir = mkdtempSync(join(tmpdir(), "hikari-control-"));
    const h = hub();
    server = await startControlServer(dir, () => ({ ok: true }), silentLogger(), { follow: h.follow });
    const lines: FollowLine[] = [];
    const stop = new AbortController();
    const done = followControl(dir, (l) => lines.push(l), stop.signal);
    await until(() => h.subs.size === 1, "the subscription");
    h.push("call", { type: "incoming", from: "0312345678" });
    h.push("dnd", true);
    await until(() => lines.length === 2, "two events");
    expect(lines).toEqual([
      { event: "call", data: { type: "incoming", from: "0312345678" } },
      { event: "dnd", data: true },
    ]);
    stop.abort();
    await done;
    await until(() => h.subs.size === 0, "the unsubscribe");
    // Ordinary requests still work beside a stream.
    expect(await queryStatus(dir)).toEqual({ ok: true });
  });

  it("events: closing the server (the gateway stopping) ends the streams, so close completes and the client returns", async () => {
    dir = mkdtempSync(join(tmpdir(), "hikari-control-"));
    const h = hub();
    const srv = await startControlServer(dir, () => ({ ok: true }), silentLogger(), { follow: h.follow });
    const done = followControl(dir, () => undefined);
    await until(() => h.subs.size === 1, "the subscription");
    let closed = false;
    srv.close(() => (closed = true));
    await done;
    await until(() => closed && h.subs.size === 0, "the server closed");
  });

  it("events: without a follow source the request is refused with a message", async () => {
    dir = mkdtempSync(join(tmpdir(), "hikari-control-"));
    server = await startControlServer(dir, () => ({ ok: true }), silentLogger());
    await expect(followControl(dir, () => undefined)).rejects.toThrow(/events: not available/);
  });

  it("events: a client that does not read gets events dropped past the bound, then told how many", async () => {
    dir = mkdtempSync(join(tmpdir(), "hikari-control-"));
    const h = hub();
    server = await startControlServer(dir, () => ({ ok: true }), silentLogger(), { follow: h.follow, followBufferBytes: 8192 });
    const sock = createConnection(controlSocketPath(dir));
    let received = "";
    sock.setEncoding("utf8");
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.write('{"command":"events"}\n');
    await until(() => h.subs.size === 1, "the subscription");
    sock.pause(); // a terminal on hold: nothing is read
    const big = "x".repeat(4000);
    const N = 2000; // 8 MB offered, far past the kernel's socket buffers and the 8 KiB bound
    for (let i = 0; i < N; i++) h.push("call", { i, big });
    sock.on("data", (d: string) => (received += d));
    sock.resume();
    const count = () => received.split("\n").filter(Boolean).length;
    let settled = -1;
    await until(() => {
      const c = count();
      const same = c === settled;
      settled = c;
      return same && c > 0;
    }, "the queued events");
    h.push("dnd", false);
    await until(() => received.includes('"event":"dnd"'), "the event after the drain");
    sock.destroy();
    const lines = received.split("\n").filter(Boolean).map((l) => JSON.parse(l) as FollowLine);
    const events = lines.filter((l) => "event" in l);
    const dropped = lines.reduce((n, l) => n + ("dropped" in l ? l.dropped : 0), 0);
    expect(dropped).toBeGreaterThan(N / 2);
    expect(events.length + dropped).toBe(N + 1);
    expect(lines.at(-2)).toHaveProperty("dropped");
    expect(lines.at(-1)).toEqual({ event: "dnd", data: false });
  });

  it("parses the events request", () => {
    expect(parseControlRequest('{"command":"events"}')).toEqual({ command: "events" });
  });
});
