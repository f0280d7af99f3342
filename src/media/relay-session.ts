/**
 * One call's media: two sides, "a" facing the caller and "b" facing the callee, each an RTP
 * socket on an even port and an RTCP socket on the next one. What arrives on a side's socket
 * goes out of the OTHER side's socket of the same kind to that side's peer, so each phone sees
 * the port it sends to as the source (symmetric RTP, RFC 4961).
 *
 * Hot path (docs/design.md): the 'message' handlers are created once per session; per packet they
 * compare the source with the latched peer (plain fields), update counters in one Float64Array
 * and send the same Buffer on. No closure, object or string is made per packet by our code
 * (Node's dgram itself still makes the Buffer and the rinfo object on receive).
 */
import { EventEmitter } from "node:events";
import { isIP } from "node:net";
import type { Logger } from "../log.js";
import { FINAL, Latch, PROVISIONAL } from "./latch.js";
import type { ExpectedPeer, RelaySessionEvents, RelaySessionOwner, RelaySide, RelayStats, SidePorts, SideReport } from "./relay-session-types.js";
import { SilenceWatch } from "./silence.js";
import { F, STREAM_FIELDS, recordRtp, resetStream, streamReport } from "./stats.js";
import type { RelayRemoteInfo, RelaySocket } from "./udp-socket.js";

export type { ExpectedPeer, PeerReport, RelaySessionEvents, RelaySessionOwner, RelaySide, RelayStats, SidePorts, SideReport } from "./relay-session-types.js";

const A = 0;
const B = STREAM_FIELDS;

/**
 * Socket errors that are an ICMP message about an earlier send, which UDP passes up (RFC 1122
 * §4.1.3.3): a phone killed mid-call answers each packet with port unreachable (ECONNREFUSED).
 */
const ICMP_ERRORS = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN"]);

export class RelaySession extends EventEmitter<RelaySessionEvents> {
  readonly a: SidePorts;
  readonly b: SidePorts;
  /** Per side (a at 0, b at STREAM_FIELDS): RFC 3550 receive stats and forward counters. */
  readonly counters = new Float64Array(2 * STREAM_FIELDS);
  readonly aRtp = new Latch();
  readonly aRtcp = new Latch();
  readonly bRtp = new Latch();
  readonly bRtcp = new Latch();
  holdA = false;
  holdB = false;
  offloaded = false;
  isReleased = false;
  /**
   * Packets (RTP + RTCP) the kernel took from each side's phone over all the session's spells
   * in the kernel: written by the relay's counter poll, since those never reach our sockets.
   */
  kernelA = 0;
  kernelB = 0;
  /** What earlier spells in the kernel counted (each install starts its counters at 0). */
  private kernelBaseA = 0;
  private kernelBaseB = 0;
  /** clock.now() when the offload took the session (0 while in userspace). */
  offloadedAt = 0;
  /** Bumped whenever a latch moves: an offload installed for an older epoch is stale. */
  latchEpoch = 0;
  /** Per-side timeout bookkeeping, driven by the relay's coarse tick (never per packet). */
  private readonly silenceA: SilenceWatch;
  private readonly silenceB: SilenceWatch;
  private finalStats: RelayStats | undefined;
  private readonly startedAt: number;

  constructor(
    readonly tag: string,
    aPort: number,
    bPort: number,
    readonly sockets: { aRtp: RelaySocket; aRtcp: RelaySocket; bRtp: RelaySocket; bRtcp: RelaySocket },
    private readonly owner: RelaySessionOwner,
    private readonly log: Logger,
  ) {
    super();
    this.a = { rtpPort: aPort, rtcpPort: aPort + 1 };
    this.b = { rtpPort: bPort, rtcpPort: bPort + 1 };
    resetStream(this.counters, A);
    resetStream(this.counters, B);
    this.startedAt = owner.clock.now();
    this.silenceA = new SilenceWatch(this.startedAt);
    this.silenceB = new SilenceWatch(this.startedAt);
    const { aRtp, aRtcp, bRtp, bRtcp } = sockets;
    // One handler per socket, made here once. Each passes fixed arguments to forward().
    aRtp.on("message", (m, r) => this.forward(true, this.aRtp, A, m, r, bRtp, this.bRtp, B));
    bRtp.on("message", (m, r) => this.forward(true, this.bRtp, B, m, r, aRtp, this.aRtp, A));
    aRtcp.on("message", (m, r) => this.forward(false, this.aRtcp, A, m, r, bRtcp, this.bRtcp, B));
    bRtcp.on("message", (m, r) => this.forward(false, this.bRtcp, B, m, r, aRtcp, this.aRtcp, A));
    // A side's sockets send to that side's phone: their errors are about it.
    aRtp.on("error", (err) => this.socketError("a", err));
    aRtcp.on("error", (err) => this.socketError("a", err));
    bRtp.on("error", (err) => this.socketError("b", err));
    bRtcp.on("error", (err) => this.socketError("b", err));
  }

  /** Counted per side here (visible in the call's stats); logged by the owner, rate-limited. */
  private socketError(side: RelaySide, err: NodeJS.ErrnoException): void {
    if (ICMP_ERRORS.has(err.code ?? "")) this.counters[(side === "a" ? A : B) + F.icmpErrors]!++;
    this.owner.socketError(this, side, err);
  }

  private forward(rtp: boolean, inL: Latch, inO: number, msg: Buffer, src: RelayRemoteInfo, out: RelaySocket, outL: Latch, outO: number): void {
    const c = this.counters;
    if (inL.state !== FINAL || src.port !== inL.peerPort || src.address !== inL.peerAddr) {
      if (!inL.admit(src.address, src.port, this.owner.clock.now())) {
        c[inO + F.dropped]!++;
        return;
      }
      if (inL.state === FINAL) this.connectLatched(inL);
      else this.owner.provisional(this);
      if (rtp && this.aRtp.state === FINAL && this.bRtp.state === FINAL) this.owner.bothLatched(this);
    }
    if (rtp) recordRtp(c, inO, msg, this.owner.hrNow());
    else {
      c[inO + F.rtcpPackets]!++;
      c[inO + F.rtcpBytes]! += msg.length;
    }
    if (outL.peerPort === 0) {
      c[inO + F.noDestination]!++;
      return;
    }
    if (outL.connected) out.send(msg);
    else out.send(msg, outL.peerPort, outL.peerAddr);
    if (rtp) {
      c[outO + F.txPackets]!++;
      c[outO + F.txBytes]! += msg.length;
    } else {
      c[outO + F.txRtcpPackets]!++;
      c[outO + F.txRtcpBytes]! += msg.length;
    }
  }

  private socketOf(l: Latch): RelaySocket {
    const k = this.sockets;
    return l === this.aRtp ? k.aRtp : l === this.bRtp ? k.bRtp : l === this.aRtcp ? k.aRtcp : k.bRtcp;
  }

  /**
   * Once a latch is final, connect() its socket to the peer: sends then skip Node's per-packet
   * address lookup and the kernel's per-packet route lookup, and the kernel itself discards
   * packets from any other source (they are then not counted in `dropped`).
   */
  private connectLatched(l: Latch): void {
    if (!this.owner.connectLatched || l.connected || l.connecting || l.state !== FINAL || this.isReleased) return;
    const sock = this.socketOf(l);
    const addr = l.peerAddr;
    const port = l.peerPort;
    l.connecting = true; // until the callback, send() keeps the addressed form
    try {
      sock.connect(port, addr, () => {
        l.connecting = false;
        if (this.isReleased) return;
        if (l.state !== FINAL || l.peerAddr !== addr || l.peerPort !== port) sock.disconnect();
        else l.connected = true;
      });
    } catch (err) {
      l.connected = false;
      l.connecting = false;
      this.log.debug({ err: (err as Error).message }, "connect failed: unconnected sends");
    }
  }

  private disconnectLatch(l: Latch): void {
    // While connecting, the callback sees the moved peer and disconnects by itself.
    if (!l.connected) return;
    l.connected = false;
    try {
      this.socketOf(l).disconnect();
    } catch {
      /* not connected after all */
    }
  }

  /**
   * The peer named by SDP (offer or answer) for one side. Until that side latches, its media
   * goes here; a changed address or port (re-INVITE) unlatches it to learn the new source.
   * Non-literal addresses (an FQDN in c=) are ignored: we never resolve names on this path.
   */
  setExpectedPeer(side: RelaySide, peer: ExpectedPeer): void {
    if (this.isReleased) return;
    if (isIP(peer.address) === 0) {
      this.log.warn({ side, address: peer.address }, "SDP peer is not an IP literal: ignored, latching only");
      return;
    }
    const now = this.owner.clock.now();
    const rtp = side === "a" ? this.aRtp : this.bRtp;
    const rtcp = side === "a" ? this.aRtcp : this.bRtcp;
    const moved = rtp.expect(peer.address, peer.rtpPort, now);
    const rtcpMoved = rtcp.expect(peer.address, peer.rtcpPort ?? peer.rtpPort + 1, now);
    if (rtcpMoved) this.disconnectLatch(rtcp);
    if (moved) this.disconnectLatch(rtp);
    for (const l of [rtp, rtcp]) if (l.state === FINAL) this.connectLatched(l);
    if (moved) this.log.info({ side, address: peer.address, port: peer.rtpPort }, "peer moved: latching again");
    // Kernel flows still name the old peer (and accept only its source): out of the kernel first.
    if (moved || rtcpMoved) this.unlatched(`${side} peer moved`);
    if (this.aRtp.state === FINAL && this.bRtp.state === FINAL) this.owner.bothLatched(this);
  }

  /**
   * `side`'s phone now reaches us from another transport address (its signalling
   * re-registered from a new NAT mapping) but sent no new SDP: its RTP and RTCP latches go
   * back to learning, with the SDP peer kept (see Latch.relearn), so its next packet from
   * wherever latches (provisionally unless it is the SDP address) and turns final after the
   * confirmation window. Its sockets are disconnected, or the kernel would keep dropping the
   * new source (the per-side timeout would then end the call), and the session leaves the
   * kernel, whose flows accept only the old source.
   */
  relearn(side: RelaySide): void {
    if (this.isReleased) return;
    const now = this.owner.clock.now();
    for (const l of side === "a" ? [this.aRtp, this.aRtcp] : [this.bRtp, this.bRtcp]) {
      l.relearn(now);
      this.disconnectLatch(l);
    }
    this.log.info({ side }, "phone's flow moved: latching again");
    this.unlatched(`${side} flow moved`);
  }

  private unlatched(reason: string): void {
    this.latchEpoch++;
    this.owner.unlatched(this, reason);
  }

  /** Poll result: packets the kernel took from each side since the current install. */
  kernelCounts(a: number, b: number): void {
    this.kernelA = this.kernelBaseA + a;
    this.kernelB = this.kernelBaseB + b;
  }

  /**
   * Back to userspace (a latch moved): what the kernel counted stays counted, so
   * `receivedFrom()` never goes backwards when the next install starts from 0, and both silent
   * spells restart: packets between the last poll and now were seen by nobody.
   */
  leaveKernel(now: number): void {
    this.offloaded = false;
    this.offloadedAt = 0;
    this.kernelBaseA = this.kernelA;
    this.kernelBaseB = this.kernelB;
    this.touch(now);
  }

  /**
   * RFC 3264 §8.4 hold. Either side on hold suspends BOTH sides' timeouts: the holding side may
   * send nothing (no music on hold) and the held one answers recvonly. Every call here (one per
   * SDP a side sends) also restarts both silent spells: signalling shows the phones are alive,
   * and a callee is only expected to send once its answer is in.
   */
  hold(side: RelaySide, onHold: boolean): void {
    if (side === "a") this.holdA = onHold;
    else this.holdB = onHold;
    this.touch(this.owner.clock.now());
  }

  /** Restart both sides' silent spells (hold, signalling, offload installed or unreadable). */
  touch(now: number): void {
    this.silenceA.restart(this.receivedFrom("a"), now);
    this.silenceB.restart(this.receivedFrom("b"), now);
  }

  /** RTP + RTCP packets from `side`'s phone: what our sockets saw plus, once offloaded, the kernel. */
  receivedFrom(side: RelaySide): number {
    const c = this.counters;
    return side === "a" ? c[A + F.rtpPackets]! + c[A + F.rtcpPackets]! + this.kernelA : c[B + F.rtpPackets]! + c[B + F.rtcpPackets]! + this.kernelB;
  }

  /**
   * Coarse tick: true once per silent spell when `side` has sent nothing for `timeoutMs`.
   * RTCP counts: RFC 3550 §6.2 has a sender with nothing to say still report every few seconds.
   */
  silentFor(side: RelaySide, now: number, timeoutMs: number): boolean {
    return (side === "a" ? this.silenceA : this.silenceB).expired(this.receivedFrom(side), now, timeoutMs);
  }

  /** Milliseconds `side` has been silent as of the last tick (for the log line). */
  quietMs(side: RelaySide, now: number): number {
    return (side === "a" ? this.silenceA : this.silenceB).quietMs(now);
  }

  /** Milliseconds `side` has been silent now (for `hikari-gw status`). */
  silentMs(side: RelaySide): number {
    return this.quietMs(side, this.owner.clock.now());
  }

  /**
   * Coarse tick, for a session the owner was told has a provisional latch: promote provisional
   * latches once signalling has been quiet. Returns whether one is still provisional (the
   * owner keeps asking until none is).
   */
  confirmLatches(now: number): boolean {
    // Four plain calls, no array per session per tick: the tick allocates nothing (docs/design.md "Hot path").
    const changed = this.confirmOne(this.aRtp, now) | this.confirmOne(this.bRtp, now) | this.confirmOne(this.aRtcp, now) | this.confirmOne(this.bRtcp, now);
    if (changed !== 0 && this.aRtp.state === FINAL && this.bRtp.state === FINAL) this.owner.bothLatched(this);
    return this.aRtp.state === PROVISIONAL || this.bRtp.state === PROVISIONAL || this.aRtcp.state === PROVISIONAL || this.bRtcp.state === PROVISIONAL;
  }

  private confirmOne(l: Latch, now: number): number {
    if (!l.confirm(now)) return 0;
    this.connectLatched(l);
    return 1;
  }

  stats(): RelayStats {
    if (this.finalStats) return this.finalStats;
    return {
      tag: this.tag,
      a: this.side(this.a, this.aRtp, this.aRtcp, A, this.holdA),
      b: this.side(this.b, this.bRtp, this.bRtcp, B, this.holdB),
      offloaded: this.offloaded,
      durationMs: this.owner.clock.now() - this.startedAt,
    };
  }

  private side(ports: SidePorts, rtp: Latch, rtcp: Latch, o: number, onHold: boolean): SideReport {
    const peer = rtp.peerPort === 0 ? null : { address: rtp.peerAddr, rtpPort: rtp.peerPort, rtcpPort: rtcp.peerPort };
    return { rtpPort: ports.rtpPort, rtcpPort: ports.rtcpPort, peer, latched: rtp.state === FINAL, onHold, ...streamReport(this.counters, o) };
  }

  /**
   * Frees ports and sockets; idempotent. Returns the final stats, and logs them unless the
   * owner logs them itself (`ownerLogs`: a call prints them once, in its "call ended" line).
   */
  release(reason: string, ownerLogs = false): RelayStats {
    if (this.finalStats) return this.finalStats;
    const st = this.stats();
    this.finalStats = st;
    this.isReleased = true;
    this.owner.released(this, reason);
    this.removeAllListeners();
    if (ownerLogs) this.log.debug({ reason }, "media session released");
    else this.log.info({ reason, stats: st }, "media session released");
    return st;
  }
}
