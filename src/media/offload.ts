/**
 * The kernel fast path behind one small add/remove contract (rtpengine's `kernel.c` ↔
 * `nft_rtpengine` split): the relay decides WHEN a session may leave userspace (every RTP
 * latch final), the offload decides HOW. Userspace is always the fallback: an offload that
 * fails answers false and the session keeps being relayed by the process.
 */

/** One direction of one stream: what arrives from `src` on `inPort` leaves from `outPort` to `dst`. */
export interface OffloadFlow {
  inPort: number;
  src: { address: string; port: number };
  outPort: number;
  dst: { address: string; port: number };
}

export interface MediaOffload {
  readonly name: string;
  /** Install the flows under `key` (the session's a-side RTP port). false = keep userspace. */
  add(key: number, flows: OffloadFlow[]): Promise<boolean>;
  /** Remove everything under `key`; every removal carries a reason for the log. */
  remove(key: number, reason: string): Promise<void>;
  /**
   * Packets the kernel took per flow, keyed by the flow's `inPort`, since it was installed:
   * the media timeout's only view of offloaded media. One call covers every session (the
   * relay polls it every few seconds). Rejects when the counters cannot be read.
   */
  packets?(): Promise<Map<number, number>>;
  /** Remove every rule (shutdown); the next start-up flushes again anyway. */
  close(): Promise<void>;
}
