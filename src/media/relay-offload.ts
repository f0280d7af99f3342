/**
 * When a session goes into the kernel and when it comes back (rtpengine's `kernelize()` /
 * `__unkernelize()` pair): the relay's side of the MediaOffload contract.
 *
 * Per session: userspace → installing → offloaded → removing → userspace, and again. `busy`
 * holds the sessions with an add or remove in flight, so at most one nft change per session
 * runs at a time and the ports go back to the pool only once no rule can name them (a stale
 * DNAT rule on a reused port would steal the next call's media).
 *
 * A latch that moves (new SDP, a phone's NAT mapping changed) bumps the session's
 * `latchEpoch`: an offloaded session is taken back at once, and an install in flight for the
 * old latches is removed as soon as it lands. Once the removal is done and both RTP latches
 * are final again, the session is offered to the kernel again with the new flows.
 */
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import { FINAL } from "./latch.js";
import type { MediaOffload, OffloadFlow } from "./offload.js";
import type { RelaySession } from "./relay-session.js";

export class RelayOffload {
  private readonly busy = new Set<RelaySession>();
  private polling = false;
  private lastPollAt = -Infinity;
  private pollFailing = false;

  constructor(
    readonly impl: MediaOffload,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly pollMs: number,
    /** The relay's pending-work tracker (idle(), close(), release waits). */
    private readonly track: (p: Promise<void>) => void,
  ) {}

  /** The offload can count offloaded packets, so offloaded sessions can time out. */
  get counts(): boolean {
    return this.impl.packets !== undefined;
  }

  /** An add or remove is in flight for `s`. */
  isBusy(s: RelaySession): boolean {
    return this.busy.has(s);
  }

  /** Every RTP latch final → hand the session to the kernel (userspace stays the fallback). */
  install(s: RelaySession): void {
    if (s.offloaded || s.isReleased || this.busy.has(s)) return;
    const flows = offloadFlows(s);
    if (flows.length === 0) return;
    this.busy.add(s);
    const key = s.a.rtpPort;
    const epoch = s.latchEpoch;
    let stale = false;
    const p = this.impl
      .add(key, flows)
      .then(async (ok) => {
        if (!ok) return; // the offload logged why; stays in userspace
        if (s.isReleased || s.latchEpoch !== epoch) {
          // Its flows name a source or destination that is gone: they must not stay in.
          stale = !s.isReleased;
          await this.impl.remove(key, s.isReleased ? "released while installing" : "peer moved while installing");
          return;
        }
        s.offloaded = true;
        s.offloadedAt = this.clock.now();
        // Its kernel counters start now: the silent spells restart with them.
        s.touch(s.offloadedAt);
        this.log.info({ call_id: s.tag, flows: flows.length }, "media offloaded to the kernel");
      })
      .catch((err: Error) => this.log.warn({ call_id: s.tag, err: err.message }, "offload failed: userspace"))
      .finally(() => {
        this.busy.delete(s);
        if (stale) this.again(s);
      });
    this.track(p);
  }

  /**
   * A latch of `s` moved: its kernel flows forward to (and accept from) an address that is no
   * longer the peer. Back to userspace first, where the new latch forms; `install()` runs
   * again once the removal is done and both RTP latches are final. An install in flight sees
   * the new epoch and removes itself.
   */
  takeBack(s: RelaySession, reason: string): void {
    if (!s.offloaded || s.isReleased) return;
    s.leaveKernel(this.clock.now());
    this.busy.add(s);
    this.log.info({ call_id: s.tag, reason }, "media back in userspace");
    const p = this.impl
      .remove(s.a.rtpPort, reason)
      .catch((err: Error) => this.log.warn({ call_id: s.tag, err: err.message }, "offload removal failed"))
      .finally(() => {
        this.busy.delete(s);
        // The other side's packets went to the kernel until now: a fresh spell for both.
        if (!s.isReleased) s.touch(this.clock.now());
        this.again(s);
      });
    this.track(p);
  }

  private again(s: RelaySession): void {
    if (!s.isReleased && s.aRtp.state === FINAL && s.bRtp.state === FINAL) this.install(s);
  }

  /**
   * The session was released: `free` (ports back to the pool) runs once no rule names its
   * ports, after any add or remove in flight has settled.
   */
  released(s: RelaySession, reason: string, pending: () => Promise<unknown>[], free: () => void): void {
    const inFlight = this.busy.has(s);
    if (!s.offloaded && !inFlight) {
      free();
      return;
    }
    const wait = inFlight ? Promise.all(pending()).then(() => undefined) : Promise.resolve();
    this.track(
      wait
        .then(() => (s.offloaded ? this.impl.remove(s.a.rtpPort, reason) : undefined))
        .catch((err: Error) => this.log.warn({ call_id: s.tag, err: err.message }, "offload removal failed"))
        .finally(free),
    );
  }

  /**
   * Offloaded media never reaches our sockets: read the kernel's per-flow counters, one nft run
   * for all sessions every pollMs. A poll that started before a session was (re-)offloaded says
   * nothing about it (its rules were not in yet). If the counters cannot be read, offloaded
   * sessions count as active: never hang up a call on a reading we do not have.
   */
  poll(now: number, live: Iterable<RelaySession>): void {
    const impl = this.impl;
    if (!impl.packets || this.polling || now - this.lastPollAt < this.pollMs) return;
    this.polling = true;
    this.lastPollAt = now;
    const p = impl
      .packets()
      .then(
        (counts) => {
          this.pollFailing = false;
          for (const s of live) {
            if (!s.offloaded || s.offloadedAt >= now) continue;
            s.kernelCounts((counts.get(s.a.rtpPort) ?? 0) + (counts.get(s.a.rtcpPort) ?? 0), (counts.get(s.b.rtpPort) ?? 0) + (counts.get(s.b.rtcpPort) ?? 0));
          }
        },
        (err: Error) => {
          if (!this.pollFailing) this.log.warn({ err: err.message }, "offload counters unreadable: offloaded calls cannot time out");
          this.pollFailing = true;
          const t = this.clock.now();
          for (const s of live) if (s.offloaded) s.touch(t);
        },
      )
      .finally(() => (this.polling = false));
    this.track(p);
  }
}

/** The kernel flows for a session: RTP always (both latched), RTCP where both RTCP latches are final too. */
export function offloadFlows(s: RelaySession): OffloadFlow[] {
  const flows: OffloadFlow[] = [];
  const pair = (inPortA: number, la: RelaySession["aRtp"], inPortB: number, lb: RelaySession["bRtp"]): void => {
    if (la.state !== FINAL || lb.state !== FINAL) return;
    flows.push({ inPort: inPortA, src: { address: la.peerAddr, port: la.peerPort }, outPort: inPortB, dst: { address: lb.peerAddr, port: lb.peerPort } });
    flows.push({ inPort: inPortB, src: { address: lb.peerAddr, port: lb.peerPort }, outPort: inPortA, dst: { address: la.peerAddr, port: la.peerPort } });
  };
  pair(s.a.rtpPort, s.aRtp, s.b.rtpPort, s.bRtp);
  if (flows.length) pair(s.a.rtcpPort, s.aRtcp, s.b.rtcpPort, s.bRtcp);
  return flows;
}
