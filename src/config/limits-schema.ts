/**
 * The `limits:` block: a bound on everything that grows with traffic, sized for a 1 GB
 * Raspberry Pi. Past a bound, new work gets 503 with Retry-After (RFC 3261 §21.5.4) — or, for
 * the tables that only remember (nonce counts, lockout entries, a phone's contacts), the
 * oldest entry goes — so a flood costs a counter in status, never the process.
 */
import { z } from "zod/mini";
import { block, int } from "./schema-parts.js";

/** A new schema for the block, built with the whole file's (schema.ts says why). */
export const limitsSchema = () =>
  block({
    /** SIP server transactions (live and completed, both kept up to 32 s); past it: stateless 503. */
    server_transactions: z._default(int(z.minimum(100)), 50_000),
    /** Call dialogs, live and lingering after the call (32 s each); past it: a new call gets 503. */
    dialogs: z._default(int(z.minimum(100)), 50_000),
    /** Retry-After on those 503s, seconds. */
    retry_after_s: z._default(int(z.minimum(1), z.maximum(3600)), 5),
    /** Digest nonces whose nonce-count is remembered against replays; the oldest are forgotten past it. */
    tracked_nonces: z._default(int(z.minimum(1000)), 65_536),
    /** Authentication-failure entries per kind (extension@address, address); the oldest go past it. */
    lockout_entries: z._default(int(z.minimum(100)), 10_000),
    /** Registered contacts per extension; past it the one closest to expiry goes. */
    contacts_per_aor: z._default(int(z.minimum(1), z.maximum(100)), 10),
  });

export type LimitsConfig = z.output<ReturnType<typeof limitsSchema>>;
