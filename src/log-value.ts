/**
 * Bounds what a log line copies from the network: a datagram may carry a 20 KB username or
 * header, and a line per datagram copying it whole turns a small flood into megabytes of
 * journal. Long values keep their start and say how long they were.
 */

/** Default longest value copied into a log line. */
export const LOG_VALUE_MAX = 64;

/** `s` itself when short; else its first `max` characters and the original length. */
export function clip(s: string, max?: number): string;
export function clip(s: string | undefined, max?: number): string | undefined;
export function clip(s: string | undefined, max = LOG_VALUE_MAX): string | undefined {
  if (s === undefined || s.length <= max) return s;
  return `${s.slice(0, max)}…(${s.length} chars)`;
}
