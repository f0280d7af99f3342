/**
 * Cheap randomness for branches, tags and Call-IDs: one crypto.randomFillSync of 4 KiB
 * serves ~250 identifiers, instead of a syscall per identifier. These values need to be
 * unpredictable enough to be unique (§8.1.1.7, §19.3), not secret.
 */
import { randomFillSync } from "node:crypto";

const POOL = Buffer.allocUnsafe(4096);
let pos = POOL.length;

export function poolBytes(n: number): Buffer {
  if (pos + n > POOL.length) {
    randomFillSync(POOL);
    pos = 0;
  }
  const b = POOL.subarray(pos, pos + n);
  pos += n;
  return b;
}

/** §8.1.1.7: branch = magic cookie "z9hG4bK" + a token unique in space and time. */
export function newBranch(): string {
  return "z9hG4bK" + poolBytes(12).toString("base64url");
}

/** §19.3: at least 32 bits of randomness; 64 here. */
export function newTag(): string {
  return poolBytes(8).toString("hex");
}

/** §8.1.1.4: globally unique, `random@host` as the RFC suggests. */
export function newCallId(host?: string): string {
  const id = poolBytes(16).toString("hex");
  return host ? `${id}@${host}` : id;
}
