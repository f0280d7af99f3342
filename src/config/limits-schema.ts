/**
 * The `limits:` block: a bound on everything that grows with traffic, sized for a 1 GB
 * Raspberry Pi. Past a bound, new work gets 503 with Retry-After (RFC 3261 §21.5.4) — or, for
 * the tables that only remember (nonce counts, lockout entries, a phone's contacts), the
 * oldest entry goes — so a flood costs a counter in status, never the process.
 */
import { z } from "zod";

export const limitsSchema = z
  .object({
    /** SIP server transactions (live and completed, both kept up to 32 s); past it: stateless 503. */
    server_transactions: z.number().int().min(100).default(50_000),
    /** Call dialogs, live and lingering after the call (32 s each); past it: a new call gets 503. */
    dialogs: z.number().int().min(100).default(50_000),
    /** Retry-After on those 503s, seconds. */
    retry_after_s: z.number().int().min(1).max(3600).default(5),
    /** Digest nonces whose nonce-count is remembered against replays; the oldest are forgotten past it. */
    tracked_nonces: z.number().int().min(1000).default(65_536),
    /** Authentication-failure entries per kind (extension@address, address); the oldest go past it. */
    lockout_entries: z.number().int().min(100).default(10_000),
    /** Registered contacts per extension; past it the one closest to expiry goes. */
    contacts_per_aor: z.number().int().min(1).max(100).default(10),
  })
  .strict()
  .prefault({});

export type LimitsConfig = z.output<typeof limitsSchema>;
