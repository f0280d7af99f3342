/**
 * Telling systemd how the gateway is doing (sd_notify(3)): READY=1 once the LAN listener is up,
 * STATUS= with the trunk's state as it changes, WATCHDOG=1 from the event loop, STOPPING=1 at
 * shutdown. Without $NOTIFY_SOCKET (not started by systemd, or not Type=notify) it all does nothing.
 *
 * How a message reaches systemd: the notification socket is a Unix *datagram* socket and Node's
 * dgram speaks only UDP, so either a native addon or a helper process has to send it. We run
 * `systemd-notify --pid=<our pid>` (the unit sets NotifyAccess=all, since the sender is a child
 * of the main process) rather than add a native addon (`sd-notify` needs libsystemd headers at
 * build time, for arm64 too, and one more compiled module to keep in step with each Node ABI).
 * A helper process per message costs a few milliseconds, and messages are rare: a handful at
 * start, one per trunk change, one per watchdog period. systemd-notify waits until the manager
 * has read the message (it sends a barrier, systemd >= 254), so the message is not lost when
 * the short-lived sender is gone before the manager looks up its cgroup.
 *
 * The watchdog pet runs on a timer of the event loop: a loop stuck in a busy callback pets no
 * more, and systemd restarts the service after WatchdogSec (Restart=always).
 */
import { execFile } from "node:child_process";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import type { TrunkState } from "../events.js";

/** Sends one sd_notify message (newline-separated KEY=VALUE assignments); never throws. */
export interface Notifier {
  send(assignments: string[]): void;
}

/** The pieces of the environment systemd hands a service (systemd.exec(5)). */
export interface ServiceEnv {
  NOTIFY_SOCKET?: string;
  WATCHDOG_USEC?: string;
  WATCHDOG_PID?: string;
}

export type Exec = (file: string, args: string[], done: (err: Error | null) => void) => void;

const execNotify: Exec = (file, args, done) => {
  execFile(file, args, { timeout: 5000 }, (err) => done(err));
};

/** The systemd-notify notifier, or undefined when systemd is not listening. */
export function systemdNotifier(env: ServiceEnv, pid: number, log: Logger, exec: Exec = execNotify): Notifier | undefined {
  if (!env.NOTIFY_SOCKET) return undefined;
  let failures = 0;
  return {
    send(assignments) {
      exec("systemd-notify", [`--pid=${pid}`, ...assignments], (err) => {
        if (!err) return;
        // A lost WATCHDOG=1 is retried at the next period; log the first few failures only.
        if (++failures <= 3) log.warn({ err: err.message, assignments }, "systemd-notify failed");
      });
    },
  };
}

/**
 * The watchdog period to pet at: half of WatchdogSec (sd_watchdog_enabled(3) advises pinging
 * at half the timeout), or undefined when the watchdog is off or meant for another process.
 */
export function watchdogIntervalMs(env: ServiceEnv, pid: number): number | undefined {
  if (!env.WATCHDOG_USEC) return undefined;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return undefined;
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

/** One line for `systemctl status`: the trunk as a person would say it. */
export function trunkStatusLine(s: TrunkState): string {
  switch (s.state) {
    case "registered":
      return `trunk registered${s.number ? ` as ${s.number}` : ""}${s.domain ? ` at ${s.domain}` : ""}`;
    case "failed":
      return `trunk failed${s.last_error ? `: ${s.last_error}` : ""}`;
    default:
      return `trunk ${s.state}`;
  }
}

/** The gateway's side of the service manager protocol. */
export class ServiceManager {
  private watchdogTimer?: TimerHandle;
  private lastStatus?: string;

  constructor(
    private readonly notifier: Notifier | undefined,
    private readonly clock: Clock,
    private readonly watchdogMs: number | undefined,
  ) {}

  /** The LAN listener is up: READY=1, and the watchdog starts. */
  ready(status: string): void {
    if (!this.notifier) return;
    this.lastStatus = status;
    this.notifier.send(["READY=1", `STATUS=${oneLine(status)}`]);
    this.startWatchdog();
  }

  status(status: string): void {
    if (!this.notifier || status === this.lastStatus) return;
    this.lastStatus = status;
    this.notifier.send([`STATUS=${oneLine(status)}`]);
  }

  stopping(): void {
    this.stopWatchdog();
    this.notifier?.send(["STOPPING=1", "STATUS=stopping"]);
  }

  private startWatchdog(): void {
    const period = this.watchdogMs;
    if (period === undefined || this.watchdogTimer) return;
    const pet = () => {
      this.notifier!.send(["WATCHDOG=1"]);
      this.watchdogTimer = this.clock.setTimeout(pet, period);
    };
    // systemClock's timers are unref'd: the watchdog never keeps the process alive alone.
    this.watchdogTimer = this.clock.setTimeout(pet, period);
  }

  private stopWatchdog(): void {
    this.clock.clearTimeout(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }
}

/** sd_notify assignments are newline-separated: a status must stay on one line. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, " ").slice(0, 200);
}

/** The service manager link for this process: a no-op outside systemd. */
export function serviceManagerFromEnv(env: ServiceEnv, pid: number, log: Logger, clock: Clock = systemClock): ServiceManager {
  return new ServiceManager(systemdNotifier(env, pid, log), clock, watchdogIntervalMs(env, pid));
}
