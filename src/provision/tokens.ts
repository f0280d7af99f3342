/**
 * One-time provisioning tokens: 32 random bytes, each good for one fetch and at most 24 h.
 * Kept only in memory: a restart kills every outstanding URL, which is the safe side.
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";

export const TOKEN_TTL_MS = 24 * 3600 * 1000;

/** Where a token is served: `http://HOST:PORT/provision/TOKEN`. */
export const PROVISION_PATH = "/provision/";

interface Entry {
  body: string;
  expiresAt: number;
  extension: string;
}

export class ProvisioningTokens {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly clock: Clock, private readonly ttlMs = TOKEN_TTL_MS) {}

  /** A new token that serves `body` once. */
  issue(extension: string, body: string): string {
    this.sweep();
    const token = randomBytes(32).toString("base64url");
    this.entries.set(token, { body, extension, expiresAt: this.clock.now() + this.ttlMs });
    return token;
  }

  /** The body, consuming the token; undefined when unknown, used or expired. */
  take(token: string): string | undefined {
    const e = this.entries.get(token);
    if (!e) return undefined;
    this.entries.delete(token);
    return e.expiresAt > this.clock.now() ? e.body : undefined;
  }

  /** A removed phone's outstanding URLs die with it. */
  revoke(extension: string): void {
    for (const [t, e] of this.entries) if (e.extension === extension) this.entries.delete(t);
  }

  /** When the soonest outstanding token expires (clock ms), if any is outstanding. */
  nextExpiry(): number | undefined {
    let due: number | undefined;
    for (const e of this.entries.values()) if (due === undefined || e.expiresAt < due) due = e.expiresAt;
    return due;
  }

  get size(): number {
    this.sweep();
    return this.entries.size;
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [t, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(t);
  }
}
