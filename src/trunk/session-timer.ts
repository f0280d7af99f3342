/**
 * RFC 4028 session timers for one dialog. `refresher` says who must refresh: when it is
 * us we send a refresh (UPDATE without SDP, §7.4 allows it) at half the interval; either
 * way, a session not refreshed within the interval (minus the §10 margin) is ended with BYE.
 */
import type { Clock, TimerHandle } from "../clock.js";

export interface SessionTimerSpec {
  /** Seconds. */
  interval: number;
  /** Whether we are the refresher. */
  weRefresh: boolean;
}

/**
 * Read Session-Expires (`300;refresher=uac`) as seen by the side that received it.
 * `weAreUac`: true when we sent the request the header's response/request belongs to as UAC.
 */
export function parseSessionExpires(value: string | undefined, weAreUac: boolean): SessionTimerSpec | undefined {
  if (!value) return undefined;
  const m = /^\s*(\d+)\s*(?:;(.*))?$/.exec(value);
  if (!m) return undefined;
  const interval = Number(m[1]);
  const refresher = /refresher\s*=\s*(uac|uas)/i.exec(m[2] ?? "")?.[1]?.toLowerCase();
  return { interval, weRefresh: refresher === undefined ? false : (refresher === "uac") === weAreUac };
}

export class SessionTimer {
  private refreshTimer?: TimerHandle;
  private expiryTimer?: TimerHandle;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private spec: SessionTimerSpec,
    private readonly refresh: () => void,
    private readonly expired: () => void,
  ) {
    this.arm();
  }

  /** A refresh happened (either direction): start the interval again. */
  refreshed(spec?: SessionTimerSpec): void {
    if (spec) this.spec = spec;
    this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    this.clock.clearTimeout(this.refreshTimer);
    this.clock.clearTimeout(this.expiryTimer);
    const ms = this.spec.interval * 1000;
    if (this.spec.weRefresh) this.refreshTimer = this.clock.setTimeout(() => this.refresh(), ms / 2);
    // §10: the side that is not the refresher ends the session "before" expiry: interval - min(32, interval/3).
    this.expiryTimer = this.clock.setTimeout(() => this.expired(), ms - Math.min(32_000, ms / 3));
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.refreshTimer);
    this.clock.clearTimeout(this.expiryTimer);
  }
}
