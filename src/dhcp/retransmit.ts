/**
 * How long the client waits before sending again (RFC 2131 §4.1 and §4.4.5).
 */

/** §4.1: 4 s, doubling to 64 s, each randomised by ±1 s (`random` uniform in [0,1)). */
export function backoffMs(attempt: number, random: () => number): number {
  return Math.min(4000 * 2 ** attempt, 64_000) + (random() * 2 - 1) * 1000;
}

/** §4.4.5: in RENEWING/REBINDING wait half the remaining time, but at least 60 s. */
export const MIN_RENEW_RETRANSMIT_MS = 60_000;

/**
 * The next retransmission time in RENEWING (deadline T2) or REBINDING (deadline expiry),
 * or null when the deadline comes first and the next state takes over.
 */
export function renewRetransmitAt(now: number, deadline: number): number | null {
  const at = now + Math.max((deadline - now) / 2, MIN_RENEW_RETRANSMIT_MS);
  return at < deadline ? at : null;
}
