/**
 * The media relay: owns the port pool, the live sessions, one coarse shared tick (latch
 * confirmation and media timeouts: undici's habit of one timer for many deadlines, docs/design.md "Hot path"),
 * and the optional kernel offload. The tick's work is O(what is due), never one walk over every
 * session: each tick confirms only the sessions with a provisional latch and checks the media
 * timeouts of one slice of the sessions (session-ring.ts), so that every session is checked
 * once per check interval in small bursts. Every call's media passes through here (Asterisk's
 * `directmedia=no`): phones reach the gateway over a VPN and the NGN only talks to the WAN
 * address.
 */
import dgram from "node:dgram";
import { isIP } from "node:net";
import type { Clock } from "../clock.js";
import { systemClock, type TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import type { MediaOffload } from "./offload.js";
import { NftOffload } from "./offload-nft.js";
import { PortPool } from "./port-pool.js";
import { RelayOffload } from "./relay-offload.js";
import { RelaySession, type RelaySessionOwner, type RelaySide } from "./relay-session.js";
import { SessionRing } from "./session-ring.js";
import { bindUdp, type BindSocket, type RelaySocket } from "./udp-socket.js";

export type OffloadMode = "none" | "nftables" | "auto";

export interface MediaRelayOptions {
  bindAddress: string;
  portMin: number;
  portMax: number;
  log: Logger;
  clock?: Clock;
  /** One side sends no RTP nor RTCP for this long (neither on hold) → "timeout". Default 60 s. */
  mediaTimeoutMs?: number;
  /**
   * How often offloaded sessions' kernel counters are read (one `nft -j list counters` for all
   * sessions). Default a quarter of the timeout, between 1 and 5 s.
   */
  offloadPollMs?: number;
  /**
   * "nftables": the kernel forwards latched sessions (a warning if it cannot). "auto": the same
   * when the start-up probe passes (nft, CAP_NET_ADMIN, IPv4, routing on), else userspace with
   * one log line saying why. Default "none" (the config's default is "auto").
   */
  offload?: OffloadMode;
  /** Tests: an in-memory socket factory. */
  bindSocket?: BindSocket;
  /**
   * connect() each socket to its peer once latched for good (default true): cheaper sends, and
   * the kernel drops other sources (then uncounted). false keeps counting every dropped packet.
   */
  connectLatched?: boolean;
  /** Tests: a fake high-resolution clock for jitter. */
  hrNow?: () => number;
  /** Tests: an offload implementation instead of nftables. */
  offloadImpl?: MediaOffload;
}

/**
 * Ticks per check interval: each checks 1/SLICES of the sessions' timeouts (300 calls: 15
 * sessions every 50 ms instead of 300 at once each second), never more often than MIN_SLICE_MS.
 */
const SLICES = 20;
const MIN_SLICE_MS = 50;

/** Bind attempts per allocation before giving up (ports taken by other processes). */
const MAX_BIND_ATTEMPTS = 32;

export class MediaRelay implements RelaySessionOwner {
  readonly clock: Clock;
  readonly hrNow: () => number;
  readonly connectLatched: boolean;
  private readonly pool: PortPool;
  /** The live sessions, visited a slice per tick for their media timeouts. */
  private readonly live = new SessionRing<RelaySession>();
  /** Sessions with a provisional latch: the only ones latch confirmation has to look at. */
  private readonly confirming = new Set<RelaySession>();
  private readonly bind: BindSocket;
  private readonly timeoutMs: number;
  /** Every session's timeout is checked once per checkMs (a round of `slices` ticks). */
  private readonly checkMs: number;
  private readonly slices: number;
  private readonly tickMs: number;
  private tickTimer: TimerHandle | undefined;
  /** Offloaded sessions seen in this round of checks, and in the last complete one. */
  private offloadedThisRound = 0;
  private offloadedLastRound = 0;
  private readonly pending = new Set<Promise<void>>();
  private readonly offload: RelayOffload | null;
  /** One for the whole relay, not per session: 200 dying calls still make a few lines a second. */
  private readonly socketErrors: RateLimitedLog;
  private closed = false;

  private constructor(
    private readonly opts: MediaRelayOptions,
    private readonly log: Logger,
    offload: MediaOffload | null,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.hrNow = opts.hrNow ?? (() => performance.now());
    this.connectLatched = opts.connectLatched ?? process.env.HIKARI_RELAY_CONNECT !== "0";
    this.pool = new PortPool(opts.portMin, opts.portMax);
    this.bind = opts.bindSocket ?? bindUdp;
    this.timeoutMs = opts.mediaTimeoutMs ?? 60_000;
    // Coarse: a second is plenty for 60 s timeouts; the 3 s latch window is confirmed at the
    // tick's finer step.
    this.checkMs = Math.max(10, Math.min(1000, Math.floor(this.timeoutMs / 4)));
    this.slices = Math.max(1, Math.min(SLICES, Math.floor(this.checkMs / MIN_SLICE_MS)));
    this.tickMs = Math.ceil(this.checkMs / this.slices);
    const pollMs = opts.offloadPollMs ?? Math.max(1000, Math.min(5000, Math.floor(this.timeoutMs / 4)));
    this.offload = offload ? new RelayOffload(offload, this.clock, log, pollMs, (p) => this.track(p)) : null;
    this.socketErrors = new RateLimitedLog(log, 5, () => this.clock.now());
  }

  static async create(opts: MediaRelayOptions): Promise<MediaRelay> {
    const log = opts.log.child({ module: "media.relay" });
    let offload: MediaOffload | null = opts.offloadImpl ?? null;
    const nft = { gwAddress: opts.bindAddress, portMin: opts.portMin, portMax: opts.portMax, log };
    if (!offload && opts.offload === "nftables") offload = await NftOffload.start(nft);
    if (!offload && opts.offload === "auto") {
      const r = await NftOffload.probe({ ...nft, requireForwarding: true });
      if (typeof r === "string") log.info({ reason: r }, "media offload auto: userspace relay");
      else offload = r;
    }
    return new MediaRelay(opts, log, offload);
  }

  get sessions(): number {
    return this.live.size;
  }

  /** Port pairs free in the pool (two per session). */
  get freePairs(): number {
    return this.pool.free;
  }

  get offloadName(): string {
    return this.offload?.impl.name ?? "none";
  }

  /** A session with two port pairs bound on bindAddress. `tag` (the call id) names it in logs. */
  async allocate(tag: string): Promise<RelaySession> {
    if (this.closed) throw new Error("media relay closed");
    const a = await this.bindPair();
    let b: { port: number; rtp: RelaySocket; rtcp: RelaySocket };
    try {
      b = await this.bindPair();
    } catch (err) {
      a.rtp.close();
      a.rtcp.close();
      this.pool.give(a.port);
      throw err;
    }
    const s = new RelaySession(tag, a.port, b.port, { aRtp: a.rtp, aRtcp: a.rtcp, bRtp: b.rtp, bRtcp: b.rtcp }, this, this.log.child({ call_id: tag }));
    this.live.add(s);
    this.startTick();
    return s;
  }

  private async bindPair(): Promise<{ port: number; rtp: RelaySocket; rtcp: RelaySocket }> {
    for (let attempt = 0; attempt < MAX_BIND_ATTEMPTS; attempt++) {
      const port = this.pool.take();
      if (port < 0) throw new Error(`RTP port range ${this.opts.portMin}-${this.opts.portMax} exhausted`);
      let rtp: RelaySocket | undefined;
      try {
        rtp = await this.bind(this.opts.bindAddress, port);
        const rtcp = await this.bind(this.opts.bindAddress, port + 1);
        return { port, rtp, rtcp };
      } catch (err) {
        rtp?.close();
        // Taken by someone else: back to the end of the FIFO, try the next pair.
        this.pool.give(port);
        this.log.debug({ port, err: (err as Error).message }, "RTP port pair busy");
      }
    }
    throw new Error(`no bindable RTP port pair after ${MAX_BIND_ATTEMPTS} attempts`);
  }

  /**
   * One even port of the pool (its odd RTCP partner stays reserved, unbound) as a plain UDP
   * socket on `address`, for media the gateway ends itself (the answering machine's RTP):
   * inside `media.rtp_ports`, where the WAN guard lets RTP in, and never given to a relay
   * session until `release()`.
   */
  async bindEndpoint(address: string): Promise<{ port: number; socket: dgram.Socket; release(): void }> {
    if (this.closed) throw new Error("media relay closed");
    for (let attempt = 0; attempt < MAX_BIND_ATTEMPTS; attempt++) {
      const port = this.pool.take();
      if (port < 0) throw new Error(`RTP port range ${this.opts.portMin}-${this.opts.portMax} exhausted`);
      const socket = dgram.createSocket(isIP(address) === 6 ? "udp6" : "udp4");
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once("error", reject);
          socket.bind(port, address, () => {
            socket.off("error", reject);
            resolve();
          });
        });
      } catch (err) {
        socket.close();
        this.pool.give(port);
        this.log.debug({ port, err: (err as Error).message }, "RTP port busy");
        continue;
      }
      socket.on("error", (err) => this.socketErrors.warn({ port, err: err.message }, "RTP endpoint socket error"));
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        socket.close();
        this.pool.give(port);
      };
      return { port, socket, release };
    }
    throw new Error(`no bindable RTP port after ${MAX_BIND_ATTEMPTS} attempts`);
  }

  private startTick(): void {
    if (this.tickTimer === undefined) this.tickTimer = this.clock.setTimeout(this.onTick, this.tickMs);
  }

  /** Made once: the tick allocates nothing per run (docs/design.md "Hot path"). */
  private readonly onTick = (): void => this.tick();
  private readonly checkOne = (s: RelaySession): void => this.checkSession(s);
  private tickNow = 0;

  /**
   * The one shared coarse tick; runs only while sessions exist, so an idle relay has no timer.
   * Latch confirmation for the sessions that wait for it, then one slice of media timeouts.
   */
  private tick(): void {
    this.tickTimer = undefined;
    const now = this.clock.now();
    for (const s of this.confirming) if (!s.confirmLatches(now)) this.confirming.delete(s);
    this.tickNow = now;
    if (this.live.visit(Math.ceil(this.live.size / this.slices), this.checkOne)) {
      this.offloadedLastRound = this.offloadedThisRound;
      this.offloadedThisRound = 0;
      if (this.offloadedLastRound > 0 && this.offload?.counts === true) this.offload.poll(now, this.live.values());
    }
    if (this.live.size > 0 && !this.closed) this.startTick();
  }

  /**
   * Media timeout per side (R1: a phone that drops off Wi-Fi while the NGN keeps sending must
   * end the call): each side's RTP + RTCP count, plus the kernel's for offloaded sessions.
   */
  private checkSession(s: RelaySession): void {
    const now = this.tickNow;
    if (s.offloaded) this.offloadedThisRound++;
    // On hold a side may legitimately send nothing; an offload that cannot count hides media.
    if (s.holdA || s.holdB || (s.offloaded && this.offload?.counts !== true)) {
      s.touch(now);
      return;
    }
    this.checkSide(s, "a", now);
    this.checkSide(s, "b", now); // a's listener may have released it: checked inside
  }

  private checkSide(s: RelaySession, side: RelaySide, now: number): void {
    if (s.isReleased || !s.silentFor(side, now, this.timeoutMs)) return;
    this.log.info({ call_id: s.tag, side, silent_ms: s.quietMs(side, now), offloaded: s.offloaded }, "media timeout");
    s.emit("timeout", s, side);
  }

  /** RelaySessionOwner: a latch of `s` is provisional; the tick confirms it when due. */
  provisional(s: RelaySession): void {
    if (!s.isReleased) this.confirming.add(s);
  }

  /** RelaySessionOwner: both RTP latches final → hand the session to the kernel, if enabled. */
  bothLatched(s: RelaySession): void {
    this.offload?.install(s);
  }

  /** RelaySessionOwner: a latch moved; an offloaded session comes back to userspace first. */
  unlatched(s: RelaySession, reason: string): void {
    this.offload?.takeBack(s, reason);
  }

  /** RelaySessionOwner: close the sockets; ports go back only once kernel rules are gone. */
  released(s: RelaySession, reason: string): void {
    this.live.remove(s);
    this.confirming.delete(s);
    for (const sock of [s.sockets.aRtp, s.sockets.aRtcp, s.sockets.bRtp, s.sockets.bRtcp]) sock.close();
    const free = (): void => {
      this.pool.give(s.a.rtpPort);
      this.pool.give(s.b.rtpPort);
    };
    if (this.offload) this.offload.released(s, reason, () => [...this.pending], free);
    else free();
    if (this.live.size === 0 && this.tickTimer !== undefined) {
      this.clock.clearTimeout(this.tickTimer);
      this.tickTimer = undefined;
    }
  }

  /** RelaySessionOwner: one line per error, at most a few a second across every session. */
  socketError(s: RelaySession, side: RelaySide, err: NodeJS.ErrnoException): void {
    this.socketErrors.warn({ call_id: s.tag, side, code: err.code, err: err.message }, "media socket error");
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Settles outstanding offload work (tests, shutdown). */
  async idle(): Promise<void> {
    for (let i = 0; i < 100 && this.pending.size > 0; i++) await Promise.all([...this.pending]);
  }

  /** Releases every session, removes kernel rules, stops the tick. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const s of [...this.live.values()]) s.release("relay closed");
    this.closed = true;
    await this.idle();
    if (this.offload) await this.offload.impl.close();
    if (this.tickTimer !== undefined) this.clock.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
  }
}
