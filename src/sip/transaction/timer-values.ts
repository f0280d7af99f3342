/**
 * RFC 3261 timer values (§17.1.1.1, Table 4 of Appendix A), per transaction layer rather
 * than global (sipgo keeps them as package variables; tests then sleep). All in ms.
 * Only unreliable transports (UDP) are used, so D/I/J/K keep their real, non-zero values.
 */
export interface TimerValues {
  /** RTT estimate: initial A/E/G interval. */
  t1: number;
  /** Cap of the non-INVITE (E) and INVITE-response (G) retransmit interval. */
  t2: number;
  /** Max time a message stays in the network: I and K. */
  t4: number;
  /** Timer D: wait for response retransmissions after a non-2xx to INVITE (≥ 32 s for UDP). */
  d: number;
}

export const defaultTimerValues: TimerValues = { t1: 500, t2: 4000, t4: 5000, d: 32_000 };

/** Every timer of the four machines (and RFC 6026's L and M), derived from the base values. */
export interface TimerDurations {
  /** INVITE client request retransmit, initial (doubles without cap, §17.1.1.2). */
  a: number;
  /** INVITE client transaction timeout = 64·T1. */
  b: number;
  d: number;
  /** Non-INVITE client retransmit, initial (doubles up to T2, §17.1.2.2). */
  e: number;
  /** Non-INVITE client transaction timeout = 64·T1. */
  f: number;
  /** INVITE server final-response retransmit, initial (doubles up to T2, §17.2.1). */
  g: number;
  /** INVITE server wait for ACK = 64·T1. */
  h: number;
  /** INVITE server wait for ACK retransmissions = T4. */
  i: number;
  /** Non-INVITE server wait for request retransmissions = 64·T1. */
  j: number;
  /** Non-INVITE client wait for response retransmissions = T4. */
  k: number;
  /** RFC 6026 §7.1: INVITE server in Accepted = 64·T1. */
  l: number;
  /** RFC 6026 §7.2: INVITE client in Accepted = 64·T1. */
  m: number;
  t1: number;
  t2: number;
}

export function timerDurations(v: Partial<TimerValues> = {}): TimerDurations {
  const t1 = v.t1 ?? defaultTimerValues.t1;
  const t2 = v.t2 ?? defaultTimerValues.t2;
  const t4 = v.t4 ?? defaultTimerValues.t4;
  const d = v.d ?? defaultTimerValues.d;
  return { t1, t2, a: t1, b: 64 * t1, d, e: t1, f: 64 * t1, g: t1, h: 64 * t1, i: t4, j: 64 * t1, k: t4, l: 64 * t1, m: 64 * t1 };
}
