/**
 * Brute-force protection for digest authentication (what Asterisk leaves to fail2ban):
 * an extension, or a source address, with `maxFailures` bad passwords within `windowMs` is
 * refused without verifying for `lockMs`; a success resets both counters.
 *
 * Both keys are counted because attacks come both ways: one address guessing many
 * extensions (a scanner) and one extension guessed from many addresses. The price of the
 * extension key is that an attacker can keep a real extension locked out; behind the VPN
 * that is an acceptable trade, and every lock is logged with the source address so the
 * owner sees who did it.
 *
 * Memory is bounded: at most `maxEntries` keys in two generations (a young map that, once
 * half full, becomes the old one while the previous old one is dropped; a touched key moves
 * to the young map), so what is forgotten is what nobody touched lately, at O(1) per call.
 */
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";

export interface LockoutOptions {
  clock: Clock;
  log: Logger;
  /** Failures within the window that trigger a lock. Default 5. */
  maxFailures?: number;
  /** Default 60 s. */
  windowMs?: number;
  /** How long a lock lasts. Default 5 minutes. */
  lockMs?: number;
  /** Keys remembered at most. Default 10000. */
  maxEntries?: number;
}

interface Entry {
  failures: number;
  windowStart: number;
  lockedUntil: number;
}

export type LockState = { locked: false } | { locked: true; by: "extension" | "address"; until: number };

export class Lockout {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly lockMs: number;
  private readonly maxEntries: number;
  /** "e:<extension>" / "a:<address>" → counters. */
  private young = new Map<string, Entry>();
  private old = new Map<string, Entry>();

  constructor(opts: LockoutOptions) {
    this.clock = opts.clock;
    this.log = opts.log;
    this.maxFailures = opts.maxFailures ?? 5;
    this.windowMs = opts.windowMs ?? 60_000;
    this.lockMs = opts.lockMs ?? 300_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
  }

  /** Whether a request for `extension` from `address` must be refused before verifying. */
  check(extension: string, address: string): LockState {
    const now = this.clock.now();
    const e = this.get("e:" + extension);
    if (e && e.lockedUntil > now) return { locked: true, by: "extension", until: e.lockedUntil };
    const a = this.get("a:" + address);
    if (a && a.lockedUntil > now) return { locked: true, by: "address", until: a.lockedUntil };
    return { locked: false };
  }

  /** A wrong password (not a missing one or a stale nonce: those are normal protocol steps). */
  recordFailure(extension: string, address: string): void {
    this.fail("e:" + extension, extension, address);
    this.fail("a:" + address, extension, address);
  }

  recordSuccess(extension: string, address: string): void {
    for (const key of ["e:" + extension, "a:" + address]) {
      this.young.delete(key);
      this.old.delete(key);
    }
  }

  /** Keys currently remembered (for tests and status). */
  size(): number {
    return this.young.size + this.old.size;
  }

  private get(key: string): Entry | undefined {
    return this.young.get(key) ?? this.old.get(key);
  }

  private fail(key: string, extension: string, address: string): void {
    const now = this.clock.now();
    let e = this.get(key);
    if (!e || now - e.windowStart >= this.windowMs) e = { failures: 0, windowStart: now, lockedUntil: e?.lockedUntil ?? 0 };
    e.failures++;
    if (e.failures >= this.maxFailures && e.lockedUntil <= now) {
      e.lockedUntil = now + this.lockMs;
      e.failures = 0;
      e.windowStart = now;
      this.log.warn(
        { extension, source: address, by: key.startsWith("e:") ? "extension" : "address", lock_s: Math.round(this.lockMs / 1000) },
        "authentication locked out after repeated failures",
      );
    }
    this.old.delete(key);
    this.young.set(key, e);
    if (this.young.size >= this.maxEntries / 2) {
      this.old = this.young;
      this.young = new Map();
    }
  }
}
