/**
 * One side's media-timeout bookkeeping: how many packets that side's phone had sent at the
 * last coarse tick, and since when that number has not moved. Plain number fields, so the
 * relay's tick over hundreds of sessions allocates nothing (docs/design.md "Hot path").
 */
export class SilenceWatch {
  private seen = 0;
  private quietSince: number;
  private timedOut = false;

  constructor(now: number) {
    this.quietSince = now;
  }

  /** Start a new silent spell now (hold, signalling, offload installed or unreadable). */
  restart(seen: number, now: number): void {
    this.seen = seen;
    this.quietSince = now;
    this.timedOut = false;
  }

  /**
   * Feed the side's packet count at a tick: true exactly once per silent spell, when the count
   * has not moved for `timeoutMs`. Any new packet ends the spell.
   */
  expired(seen: number, now: number, timeoutMs: number): boolean {
    if (seen !== this.seen) {
      this.restart(seen, now);
      return false;
    }
    if (this.timedOut || now - this.quietSince < timeoutMs) return false;
    this.timedOut = true;
    return true;
  }

  quietMs(now: number): number {
    return now - this.quietSince;
  }
}
