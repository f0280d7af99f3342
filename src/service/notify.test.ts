import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { ServiceManager, serviceManagerFromEnv, systemdNotifier, trunkStatusLine, watchdogIntervalMs, type Exec, type Notifier } from "./notify.js";

/** Records every sd_notify message instead of sending it. */
class FakeNotifier implements Notifier {
  readonly sent: string[][] = [];
  send(assignments: string[]): void {
    this.sent.push(assignments);
  }
}

describe("watchdogIntervalMs", () => {
  it("pets at half of WatchdogSec", () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000" }, 42)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "42" }, 42)).toBe(15_000);
  });
  it("is off without WATCHDOG_USEC, for another process, or on garbage", () => {
    expect(watchdogIntervalMs({}, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "7" }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "soon" }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "0" }, 42)).toBeUndefined();
  });
});

describe("ServiceManager", () => {
  it("sends READY with the status, then pets the watchdog every period from the clock", () => {
    const n = new FakeNotifier();
    const clock = new ManualClock();
    const sm = new ServiceManager(n, clock, 15_000);
    sm.status("trunk acquiring");
    clock.advance(60_000);
    expect(n.sent).toEqual([["STATUS=trunk acquiring"]]); // no watchdog before READY
    sm.ready("trunk acquiring");
    expect(n.sent[1]).toEqual(["READY=1", "STATUS=trunk acquiring"]);
    clock.advance(14_999);
    expect(n.sent).toHaveLength(2);
    clock.advance(1);
    clock.advance(30_000);
    expect(n.sent.slice(2)).toEqual([["WATCHDOG=1"], ["WATCHDOG=1"], ["WATCHDOG=1"]]);
  });

  it("sends a STATUS only when it changes, on one line", () => {
    const n = new FakeNotifier();
    const sm = new ServiceManager(n, new ManualClock(), undefined);
    sm.ready("trunk acquiring");
    sm.status("trunk acquiring");
    sm.status("trunk failed: line 1\nline 2");
    expect(n.sent).toEqual([["READY=1", "STATUS=trunk acquiring"], ["STATUS=trunk failed: line 1 line 2"]]);
  });

  it("stops petting at STOPPING", () => {
    const n = new FakeNotifier();
    const clock = new ManualClock();
    const sm = new ServiceManager(n, clock, 1000);
    sm.ready("x");
    sm.stopping();
    clock.advance(10_000);
    expect(n.sent).toEqual([["READY=1", "STATUS=x"], ["STOPPING=1", "STATUS=stopping"]]);
    expect(clock.pending()).toBe(0);
  });

  it("does nothing without NOTIFY_SOCKET, and leaves no timer behind", () => {
    const clock = new ManualClock();
    const sm = serviceManagerFromEnv({ WATCHDOG_USEC: "1000000" }, 1, silentLogger(), clock);
    sm.ready("x");
    sm.status("y");
    expect(clock.pending()).toBe(0);
  });
});

describe("systemdNotifier", () => {
  it("runs systemd-notify with our pid and the assignments", () => {
    const calls: [string, string[]][] = [];
    const exec: Exec = (file, args, done) => {
      calls.push([file, args]);
      done(null);
    };
    const n = systemdNotifier({ NOTIFY_SOCKET: "/run/systemd/notify" }, 4242, silentLogger(), exec)!;
    n.send(["READY=1", "STATUS=trunk registered"]);
    expect(calls).toEqual([["systemd-notify", ["--pid=4242", "READY=1", "STATUS=trunk registered"]]]);
  });
  it("is absent without NOTIFY_SOCKET and survives a failing helper", () => {
    expect(systemdNotifier({}, 1, silentLogger())).toBeUndefined();
    const n = systemdNotifier({ NOTIFY_SOCKET: "@x" }, 1, silentLogger(), (_f, _a, done) => done(new Error("ENOENT")))!;
    expect(() => n.send(["WATCHDOG=1"])).not.toThrow();
  });
});

describe("trunkStatusLine", () => {
  it("says what the trunk is doing", () => {
    expect(trunkStatusLine({ state: "registered", number: "0312345678", domain: "ntt-east.ne.jp" })).toBe("trunk registered as 0312345678 at ntt-east.ne.jp");
    expect(trunkStatusLine({ state: "failed", last_error: "no lease" })).toBe("trunk failed: no lease");
    expect(trunkStatusLine({ state: "acquiring" })).toBe("trunk acquiring");
  });
});
