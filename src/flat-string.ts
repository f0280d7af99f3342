/**
 * A sequential copy of a string, for one that a long-lived table keeps. V8 represents a
 * substring (slice, regex match) as a view that keeps its parent alive, and a concatenation as
 * a pair of pointers: a key cut from a datagram's text and stored for minutes keeps the whole
 * datagram (~1 KB) with it. The Buffer round trip is the one way that always allocates a
 * fresh flat string. Use it where an entry outlives the message, not on every lookup.
 */
export function flatString(s: string): string {
  return Buffer.from(s, "utf8").toString("utf8");
}
