/**
 * A Buffer that owns its memory. serializeMessage() allocates with Buffer.allocUnsafe, which
 * carves small buffers out of Node's shared 8 KB pool slabs; one such slice kept alive keeps
 * its whole slab alive. Transactions keep wire forms for up to 64·T1 = 32 s (Timer J/L/M/D,
 * RFC 3261 §17 with RFC 6026 §7), while every other message cut from the same slab dies in
 * milliseconds: at 600 calls/s the pinned slabs were ~30 MB of external memory and made each
 * mark-compact slower. A copy of a few hundred bytes into its own allocation costs less.
 */
export function ownBuffer(b: Buffer): Buffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b;
  const own = Buffer.allocUnsafeSlow(b.byteLength);
  b.copy(own);
  return own;
}
