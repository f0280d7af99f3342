import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Server } from "node:net";
import { ManualClock } from "./clock.js";
import { silentLogger } from "./log.js";
import { Lockout } from "./pbx/lockout.js";
import { parseControlRequest, queryControl, queryStatus, startControlServer, type ControlRequest } from "./control.js";

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
  });

  it("unblock reaches the running gateway's lockout and answers with what it lifted", async () => {
    dir = mkdtempSync(join(tmpdir(), "hikari-control-"));
    const clock = new ManualClock(1_000_000);
    const lockout = new Lockout({ clock, log: silentLogger() });
    for (let i = 0; i < 5; i++) lockout.recordFailure("801", "198.18.0.9");
    const handler = (req: ControlRequest) => (req.command === "unblock" ? { lifted: lockout.unblock(req.target) } : { ok: true });
    server = await startControlServer(dir, handler, silentLogger());
    expect(await queryStatus(dir)).toEqual({ ok: true });
    expect(await queryControl(dir, { command: "unblock", target: "801" })).toEqual({ lifted: [{ address: "198.18.0.9", extension: "801", until: 1_300_000 }] });
    expect(lockout.check("801", "198.18.0.9").locked).toBe(false);
    expect(await queryControl(dir, { command: "unblock", target: "801" })).toEqual({ lifted: [] });
  });
});
