import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "./clock.js";
import { silentLogger } from "./log.js";
import { GatewayEvents, type CallEvent, type GatewayEventMap } from "./events.js";
import { CallMonitor } from "./call-monitor.js";
import { Phonebook } from "./phonebook.js";
import { Blocklist } from "./blocklist.js";
import { GatewayStateStore } from "./gateway-state-store.js";
import { callResult } from "./call-log.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function rig(opts: { channels?: number; blocklist?: { numbers: string[]; withheld: boolean; status: 486 | 603 }; dir?: string; dndDefault?: boolean } = {}) {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "hgw-monitor-"));
  dirs.push(dir);
  const clock = new ManualClock(Date.parse("2026-12-06T10:00:00Z"));
  const log = silentLogger();
  const events = new GatewayEvents(log);
  const seen: { name: keyof GatewayEventMap; arg: unknown }[] = [];
  for (const name of ["call", "line", "calls", "missed", "dnd"] as const) events.on(name, (arg: unknown) => seen.push({ name, arg }));
  const monitor = new CallMonitor({
    events,
    clock,
    log,
    phonebook: new Phonebook({ "0312345678": "Grandma" }),
    blocklist: new Blocklist(opts.blocklist ?? { numbers: ["0120999999"], withheld: false, status: 603 }),
    store: new GatewayStateStore(dir, log),
    extensionNames: new Map([["801", "Smartphone"], ["802", undefined]]),
    channels: opts.channels ?? 2,
    callsKept: 3,
    dndDefault: opts.dndDefault ?? false,
  });
  let n = 0;
  const ev = (type: CallEvent["type"], over: Partial<CallEvent> = {}): CallEvent => ({ type, call_id: "c1", direction: "inbound", from: "0312345678", to: "0501111111", at: new Date(clock.now() + n++ * 1000).toISOString(), ...over });
  return { dir, clock, monitor, seen, ev, names: () => seen.map((s) => s.name) };
}

describe("CallMonitor", () => {
  it("a call the answering machine took: result voicemail, and still one more missed call for the household", () => {
    const r = rig();
    r.monitor.onCallEvent(r.ev("incoming"));
    r.monitor.onCallEvent(r.ev("answered", { answered_by: "voicemail" }));
    r.monitor.onCallEvent(r.ev("ended", { answered_by: "voicemail", duration_s: 20, hangup_by: "caller" }));
    expect(r.monitor.calls()[0]).toMatchObject({ result: "voicemail", duration_s: 20, from_name: "Grandma" });
    expect(r.monitor.missed).toMatchObject({ count: 1, last: { from: "0312345678", from_name: "Grandma" } });
  });

  it("DND with the answering machine taking the call: nothing is refused (it answers instead of 486)", () => {
    const r = rig();
    r.monitor.setDnd(true);
    expect(r.monitor.screen("0312345678", "c1", true)).toBeUndefined();
    expect(r.monitor.screen("0312345678", "c2")).toMatchObject({ status: 486 });
    // The blocklist still refuses first.
    expect(r.monitor.screen("0120999999", "c3", true)).toMatchObject({ status: 603 });
  });

  it("DND: a command's setting survives a restart, but a pbx.dnd edited in the YAML since wins", () => {
    const first = rig();
    first.monitor.setDnd(true);
    expect(rig({ dir: first.dir }).monitor.dnd).toBe(true); // same config: the command's state stays
    const second = rig({ dir: first.dir });
    second.monitor.setDnd(false);
    // The user now writes pbx.dnd: true and restarts: the YAML is the newer word.
    expect(rig({ dir: first.dir, dndDefault: true }).monitor.dnd).toBe(true);
  });

  it("an answered inbound call: named events, the channel rings then talks then idles, one call record", () => {
    const r = rig();
    r.monitor.onCallEvent(r.ev("incoming"));
    r.monitor.onCallEvent(r.ev("answered", { extension: "801" }));
    r.monitor.onCallEvent(r.ev("ended", { extension: "801", duration_s: 12, reason: "callee hung up", hangup_by: "callee" }));
    expect(r.names()).toEqual(["call", "line", "call", "line", "call", "line", "calls"]);
    const calls = r.seen.filter((s) => s.name === "call").map((s) => s.arg as CallEvent);
    expect(calls[0]).toMatchObject({ type: "incoming", from: "0312345678", from_name: "Grandma" });
    expect(calls[2]).toMatchObject({ type: "ended", hangup_by: "callee", duration_s: 12 });
    const lines = r.seen.filter((s) => s.name === "line").map((s) => s.arg);
    expect(lines[0]).toMatchObject({ channel: 1, state: "ringing", caller: "0312345678", caller_name: "Grandma" });
    expect(lines[1]).toMatchObject({ channel: 1, state: "talking", extension: "801" });
    expect(lines[2]).toEqual({ channel: 1, state: "idle", since: expect.any(String) });
    expect(r.monitor.calls()).toEqual([
      { call_id: "c1", direction: "inbound", from: "0312345678", from_name: "Grandma", to: "0501111111", extension: "801", start: calls[0]!.at, duration_s: 12, result: "answered", reason: "callee hung up" },
    ]);
    expect(r.monitor.missed.count).toBe(0);
  });

  it("two calls at once take two channels and keep separate states", () => {
    const r = rig();
    r.monitor.onCallEvent(r.ev("incoming", { call_id: "a" }));
    r.monitor.onCallEvent(r.ev("answered", { call_id: "a", extension: "801" }));
    r.monitor.onCallEvent(r.ev("outgoing", { call_id: "b", direction: "outbound", from: "802", to: "0312345678" }));
    expect(r.monitor.lines().map((l) => [l.channel, l.state, l.call_id])).toEqual([
      [1, "talking", "a"],
      [2, "dialing", "b"],
    ]);
    expect(r.monitor.lines()[1]).toMatchObject({ called_name: "Grandma" });
    r.monitor.onCallEvent(r.ev("ended", { call_id: "a", reason: "caller hung up" }));
    expect(r.monitor.lines().map((l) => l.state)).toEqual(["idle", "dialing"]);
  });

  it("calls between extensions take no line channel", () => {
    const r = rig();
    r.monitor.onCallEvent(r.ev("outgoing", { direction: "internal", from: "801", to: "802" }));
    expect(r.names()).toEqual(["call"]);
    expect((r.seen[0]!.arg as CallEvent).from_name).toBe("Smartphone");
  });

  it("a missed inbound call counts, names the last missed caller, persists; reset sets it back to 0", () => {
    const r = rig();
    r.monitor.onCallEvent(r.ev("incoming"));
    r.monitor.onCallEvent(r.ev("missed", { reason: "no answer" }));
    expect(r.monitor.missed).toMatchObject({ count: 1, last: { from: "0312345678", from_name: "Grandma" } });
    expect(r.names().at(-1)).toBe("missed");
    expect(JSON.parse(readFileSync(join(r.dir, "gateway-state.json"), "utf8")).missed.count).toBe(1);
    const again = rig({ dir: r.dir });
    expect(again.monitor.missed.count).toBe(1);
    again.monitor.resetMissed();
    expect(again.monitor.missed.count).toBe(0);
  });

  it("a blocklisted caller is refused with the configured status, gets no incoming event and no ringing line, and is listed as rejected", () => {
    const r = rig();
    const refusal = r.monitor.screen("0120-999-999", "c9");
    expect(refusal).toEqual({ status: 603, reason: "Decline", why: "number on the blocklist", event: "rejected" });
    r.monitor.onCallEvent(r.ev("incoming", { call_id: "c9", from: "0120999999" }));
    r.monitor.onCallEvent(r.ev("rejected", { call_id: "c9", from: "0120999999", reason: "603 Decline" }));
    expect(r.names()).toEqual(["call", "calls"]);
    expect((r.seen[0]!.arg as CallEvent).type).toBe("rejected");
    expect(r.monitor.calls()[0]).toMatchObject({ result: "rejected", from: "0120999999" });
    expect(r.monitor.missed.count).toBe(0);
    expect(r.monitor.screen("0312345678", "c10")).toBeUndefined();
  });

  it("withheld callers are refused only when blocklist.withheld is set", () => {
    expect(rig().monitor.screen("anonymous", "x")).toBeUndefined();
    expect(rig({ blocklist: { numbers: [], withheld: true, status: 486 } }).monitor.screen("anonymous", "x")).toMatchObject({ status: 486, reason: "Busy Here" });
  });

  it("DND: persisted across restarts, refuses with 486 as missed", () => {
    const r = rig();
    r.monitor.setDnd(true);
    expect(r.names()).toEqual(["dnd"]);
    expect(r.monitor.screen("0312345678", "d1")).toMatchObject({ status: 486, event: "missed" });
    expect(rig({ dir: r.dir }).monitor.dnd).toBe(true);
  });

  it("keeps only the last N calls, newest first", () => {
    const r = rig();
    for (const id of ["1", "2", "3", "4"]) {
      r.monitor.onCallEvent(r.ev("outgoing", { call_id: id, direction: "internal", from: "801", to: "802" }));
      r.monitor.onCallEvent(r.ev("missed", { call_id: id, direction: "internal", from: "801", to: "802", reason: "cancelled" }));
    }
    expect(r.monitor.calls().map((c) => c.call_id)).toEqual(["4", "3", "2"]);
  });
});

describe("call results and who hung up", () => {
  const base = { call_id: "x", from: "a", to: "b", at: "" };
  it.each([
    [{ type: "ended", direction: "inbound" }, "answered"],
    [{ type: "missed", direction: "inbound", reason: "486 Busy Here" }, "missed"],
    [{ type: "rejected", direction: "inbound", reason: "603 Decline" }, "rejected"],
    [{ type: "rejected", direction: "outbound", reason: "486 Busy Here" }, "busy"],
    [{ type: "rejected", direction: "internal", reason: "603 Decline" }, "rejected"],
    [{ type: "missed", direction: "outbound", reason: "404 Not Found" }, "failed"],
    [{ type: "missed", direction: "outbound", reason: "cancelled" }, "missed"],
  ] as const)("%j → %s", (ev, result) => {
    expect(callResult({ ...base, ...ev } as CallEvent)).toBe(result);
  });
});
