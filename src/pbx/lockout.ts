/**
 * Brute-force protection for digest authentication (what Asterisk leaves to fail2ban).
 *
 * The rule (also in the README, "Security"):
 * - Wrong passwords are counted per (source address, extension) pair. A pair with
 *   `maxFailures` failures within `windowMs` is locked: its requests are refused with 403
 *   without verifying, for `lockMs`, doubled at each new lock of the same pair (backoff,
 *   capped at `maxLockMs`).
 * - An address that fails against `scanExtensions` distinct extensions within the window is
 *   a scanner and is blocked for `lockMs` (same backoff): from then on every failure from it
 *   locks its pair at once (one guess per extension and lock period instead of
 *   `maxFailures`).
 * - A correctly authenticated request is never refused because of a neighbour: not for
 *   another address's failures (the real 801 stays registered while 801 is guessed from
 *   elsewhere), not for another extension's failures from the same address (phones behind
 *   the same NAT as a guesser or a scanner keep working). Only the pair's own lock refuses.
 * - A success resets its own pair, never the address's scan state, so knowing one password
 *   does not wipe out the record of guessing others.
 * - `unblock(address | extension)` lifts the locks by hand (`hikari-gw unblock`).
 *
 * Why pairs: an extension-wide lock let anyone knock a phone offline with five datagrams,
 * and an address-wide one locked every phone behind the guesser's NAT. The price is that a
 * guesser with many addresses gets `maxFailures` guesses per address per lock period; the
 * LAN/VPN side does not hand out addresses freely, and every lock is logged with its source.
 *
 * Memory is bounded: at most `maxEntries` keys per kind in two generations (a young map
 * that, once half full, becomes the old one while the previous old one is dropped; a touched
 * key moves to the young map), so what is forgotten is what nobody touched lately, at O(1)
 * per call. Usernames too long to be an extension share one key.
 */
import { isIP } from "node:net";
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import { clip } from "../log-value.js";
import { flatString } from "../flat-string.js";
import { RateLimitedLog } from "../rate-limited-log.js";

export interface LockoutOptions {
  clock: Clock;
  log: Logger;
  /** Failures of one (address, extension) pair within the window that lock it. Default 5. */
  maxFailures?: number;
  /** Default 60 s. */
  windowMs?: number;
  /** First lock's length. Default 5 minutes. */
  lockMs?: number;
  /** Longest lock after backoff. Default 24 hours. */
  maxLockMs?: number;
  /** Distinct extensions failed from one address within the window that make it a scanner. Default 3. */
  scanExtensions?: number;
  /** Keys remembered at most, per kind. Default 10000. */
  maxEntries?: number;
}

interface PairEntry {
  failures: number;
  windowStart: number;
  lockedUntil: number;
  /** Locks so far: the next one lasts lockMs * 2^level. */
  level: number;
}

interface AddressEntry {
  /** Extensions failed within the current window (at most scanExtensions). */
  extensions: Set<string>;
  windowStart: number;
  blockedUntil: number;
  level: number;
}

export type LockState = { locked: false } | { locked: true; by: "pair"; until: number };

/** One lock `unblock` lifted. */
export interface LiftedLock {
  address: string;
  /** Absent for an address (scan) block. */
  extension?: string;
  until: number;
}

/** Longest username kept as its own key; longer ones cannot be extensions. */
const MAX_USER_KEY = 64;

export class Lockout {
  private readonly clock: Clock;
  private readonly limitedLog: RateLimitedLog;
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly lockMs: number;
  private readonly maxLockMs: number;
  private readonly scanExtensions: number;
  /** "<address> <extension>" → counters */
  private readonly pairs: Generations<PairEntry>;
  /** address → scan state */
  private readonly addresses: Generations<AddressEntry>;

  constructor(opts: LockoutOptions) {
    this.clock = opts.clock;
    // A lock is one line, but under a scan every failure may lock a pair: bounded anyway.
    this.limitedLog = new RateLimitedLog(opts.log, 5, () => this.clock.now());
    this.maxFailures = opts.maxFailures ?? 5;
    this.windowMs = opts.windowMs ?? 60_000;
    this.lockMs = opts.lockMs ?? 300_000;
    this.maxLockMs = Math.max(this.lockMs, opts.maxLockMs ?? 86_400_000);
    this.scanExtensions = opts.scanExtensions ?? 3;
    const max = opts.maxEntries ?? 10_000;
    this.pairs = new Generations(max);
    this.addresses = new Generations(max);
  }

  /** Whether a request for `extension` from `address` must be refused before verifying. */
  check(extension: string, address: string): LockState {
    const e = this.pairs.get(pairKey(address, extension));
    if (e && e.lockedUntil > this.clock.now()) return { locked: true, by: "pair", until: e.lockedUntil };
    return { locked: false };
  }

  /** Whether `address` is blocked as a scanner (its failures lock at once). */
  isScanner(address: string): boolean {
    const a = this.addresses.get(address);
    return a !== undefined && a.blockedUntil > this.clock.now();
  }

  /** A wrong password or unknown user (not a missing credential or a stale nonce: those are normal protocol steps). */
  recordFailure(extension: string, address: string): void {
    const now = this.clock.now();
    const scanner = this.countForAddress(extension, address, now);
    const key = pairKey(address, extension);
    let e = this.pairs.get(key);
    if (!e) e = { failures: 0, windowStart: now, lockedUntil: 0, level: 0 };
    // The backoff is forgotten after a quiet day past the last lock.
    if (e.level > 0 && e.lockedUntil + this.maxLockMs <= now) e.level = 0;
    if (now - e.windowStart >= this.windowMs) {
      e.failures = 0;
      e.windowStart = now;
    }
    e.failures++;
    if ((e.failures >= this.maxFailures || scanner) && e.lockedUntil <= now) {
      const ms = this.lockLength(e.level++);
      e.lockedUntil = now + ms;
      e.failures = 0;
      e.windowStart = now;
      this.limitedLog.warn(
        {
          source: address,
          extension: clip(extension),
          lock_s: Math.round(ms / 1000),
          rule: scanner ? "the address is blocked as a scanner: one failure locks its pair" : `${this.maxFailures} failures for one extension from one address within ${Math.round(this.windowMs / 1000)} s`,
        },
        "authentication locked for this extension from this address",
      );
    }
    this.pairs.set(key, e);
  }

  /** A verified request: its own pair starts afresh (the address's scan state stays). */
  recordSuccess(extension: string, address: string): void {
    this.pairs.delete(pairKey(address, extension));
  }

  /**
   * Lifts every lock and counter of an address (an IP address: its scan block and all its
   * pairs) or of an extension (its pairs from every address). Returns the locks that were
   * in force.
   */
  unblock(target: string): LiftedLock[] {
    const now = this.clock.now();
    const lifted: LiftedLock[] = [];
    const byAddress = isIP(target) !== 0;
    if (byAddress) {
      const a = this.addresses.get(target);
      if (a && a.blockedUntil > now) lifted.push({ address: target, until: a.blockedUntil });
      this.addresses.delete(target);
    }
    for (const [key, e] of this.pairs.entries()) {
      const sp = key.indexOf(" ");
      const address = key.slice(0, sp);
      const extension = key.slice(sp + 1);
      if (byAddress ? address !== target : extension !== target) continue;
      if (e.lockedUntil > now) lifted.push({ address, extension, until: e.lockedUntil });
      this.pairs.delete(key);
    }
    return lifted;
  }

  /** Keys currently remembered (for tests and status). */
  size(): number {
    return this.pairs.size() + this.addresses.size();
  }

  /** Adds `extension` to the address's failures; true when the address is (now) a scanner. */
  private countForAddress(extension: string, address: string, now: number): boolean {
    let a = this.addresses.get(address);
    if (!a) a = { extensions: new Set(), windowStart: now, blockedUntil: 0, level: 0 };
    if (a.level > 0 && a.blockedUntil + this.maxLockMs <= now) a.level = 0;
    if (a.blockedUntil > now) {
      this.addresses.set(address, a);
      return true;
    }
    if (now - a.windowStart >= this.windowMs) {
      a.extensions.clear();
      a.windowStart = now;
    }
    const user = userKey(extension);
    if (!a.extensions.has(user)) a.extensions.add(flatString(user));
    let scanner = false;
    if (a.extensions.size >= this.scanExtensions) {
      const ms = this.lockLength(a.level++);
      a.blockedUntil = now + ms;
      a.extensions.clear();
      a.windowStart = now;
      scanner = true;
      this.limitedLog.warn(
        { source: address, lock_s: Math.round(ms / 1000), rule: `failures for ${this.scanExtensions} extensions from one address within ${Math.round(this.windowMs / 1000)} s` },
        "address blocked as a scanner: each further failure locks its extension at once",
      );
    }
    this.addresses.set(address, a);
    return scanner;
  }

  private lockLength(level: number): number {
    return Math.min(this.maxLockMs, this.lockMs * 2 ** Math.min(level, 30));
  }
}

function userKey(extension: string): string {
  return extension.length <= MAX_USER_KEY ? extension : "<long>";
}

function pairKey(address: string, extension: string): string {
  return address + " " + userKey(extension);
}

/** A bounded map in two generations (see the header). */
class Generations<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();

  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    return this.young.get(key) ?? this.old.get(key);
  }

  set(key: string, v: V): void {
    this.old.delete(key);
    // Stored for up to a day: a copy, not a view of the datagram the username came in.
    this.young.set(this.young.has(key) ? key : flatString(key), v);
    if (this.young.size >= this.max / 2) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  delete(key: string): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  /** A snapshot: safe to delete while iterating. */
  entries(): [string, V][] {
    return [...this.old.entries(), ...this.young.entries()];
  }

  size(): number {
    return this.young.size + this.old.size;
  }
}
