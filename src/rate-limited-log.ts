/**
 * Rate-limited logging for every path a datagram from the network can reach: a flood must
 * never become a log flood (journald on an SD card, an SSH user reading the logs). At most
 * `perSecond` lines a second per limiter; the lines dropped are counted and reported as
 * `suppressed` on the next line that goes out, so nothing disappears without a trace.
 * One limiter per message kind (e.g. one for "media socket error", one for "refused").
 */
import type { Logger } from "./log.js";

type Level = "debug" | "info" | "warn" | "error";

export class RateLimitedLog {
  private windowStart = Number.NEGATIVE_INFINITY;
  private inWindow = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly perSecond = 5,
    private readonly now: () => number = Date.now,
  ) {}

  debug(obj: Record<string, unknown>, msg: string): void {
    this.at("debug", obj, msg);
  }
  info(obj: Record<string, unknown>, msg: string): void {
    this.at("info", obj, msg);
  }
  warn(obj: Record<string, unknown>, msg: string): void {
    this.at("warn", obj, msg);
  }
  error(obj: Record<string, unknown>, msg: string): void {
    this.at("error", obj, msg);
  }

  /** Lines dropped since the last one that went out. */
  get pending(): number {
    return this.suppressed;
  }

  private at(level: Level, obj: Record<string, unknown>, msg: string): void {
    const t = this.now();
    if (t - this.windowStart >= 1000) {
      this.windowStart = t;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.perSecond) {
      this.suppressed++;
      return;
    }
    this.inWindow++;
    if (this.suppressed > 0) {
      this.log[level]({ ...obj, suppressed: this.suppressed }, msg);
      this.suppressed = 0;
    } else this.log[level](obj, msg);
  }
}
