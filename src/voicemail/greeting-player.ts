/**
 * Sends audio to the caller as paced G.711 RTP (RFC 3550, RFC 3551): one 20 ms packet of 160
 * samples at a time. Packet n of a play goes out at start + n × 20 ms on the injected clock, an
 * absolute schedule, so a timer that fires late delays one packet and not every packet after it.
 *
 * Header (RFC 3550 §5.1): V=2, a random SSRC, random initial sequence number and timestamp
 * (§5.1: "SHOULD be random" against known-plaintext attacks), sequence +1 and timestamp +160 per
 * packet. One SSRC for the whole call: a second play() continues the stream, its timestamp
 * advanced by the real time between (§5.1: the timestamp is the sampling instant). The marker
 * bit is set on the first packet of a talkspurt (RFC 3551 §4.1): the first packet of the
 * stream, and the first of a play() that starts 20 ms or more after the previous one ended (a
 * play() started within a packet time continues the talkspurt on the same grid).
 */
import { randomBytes as cryptoRandomBytes } from "node:crypto";
import type { Clock, TimerHandle } from "../clock.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { encodeG711, payloadTypeOf } from "./g711.js";
import { buildRtp } from "./rtp.js";
import { PACKET_MS, SAMPLES_PER_PACKET, type G711Codec, type GreetingPlayerApi, type GreetingPlayerOptions, type RtpAddress, type RtpSendSocket } from "./types.js";

/** Behind schedule by more than this many packets (a stalled event loop): start the schedule afresh rather than burst. */
const MAX_CATCH_UP = 5;

interface Playing {
  bytes: Uint8Array;
  packets: number;
  next: number;
  /** Clock time packet 0 of this play is due (moved forward after a stall). */
  start: number;
  resolve: () => void;
}

export class GreetingPlayer implements GreetingPlayerApi {
  private readonly socket: RtpSendSocket;
  private remote: RtpAddress;
  private readonly clock: Clock;
  private readonly codec: G711Codec;
  private readonly pt: number;
  private readonly ssrc: number;
  private seq: number;
  /** RTP timestamp of the next packet. */
  private ts: number;
  /** Clock time at which the stream's next sample would play if it continued seamlessly (undefined before the first packet). */
  private streamEnd: number | undefined;
  private playing: Playing | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private sent = 0;
  private readonly sendErrors: RateLimitedLog | undefined;

  constructor(opts: GreetingPlayerOptions) {
    this.socket = opts.socket;
    this.remote = { ...opts.remote };
    this.clock = opts.clock;
    this.codec = opts.codec ?? "PCMU";
    this.pt = payloadTypeOf(this.codec);
    const rnd = (opts.randomBytes ?? cryptoRandomBytes)(10);
    this.ssrc = rnd.readUInt32BE(0);
    this.seq = rnd.readUInt16BE(4);
    this.ts = rnd.readUInt32BE(6);
    this.sendErrors = opts.log !== undefined ? new RateLimitedLog(opts.log.child({ module: "voicemail.player" }), 1, () => this.clock.now()) : undefined;
  }

  get packetsSent(): number {
    return this.sent;
  }

  setRemote(remote: RtpAddress): void {
    this.remote = { ...remote };
  }

  play(samples: Int16Array): Promise<void> {
    if (this.stopped || samples.length === 0) return Promise.resolve();
    if (this.playing !== undefined) return Promise.reject(new Error("GreetingPlayer: already playing"));
    const packets = Math.ceil(samples.length / SAMPLES_PER_PACKET);
    // The last packet is padded with silence to a full 20 ms (160 samples).
    const padded = new Int16Array(packets * SAMPLES_PER_PACKET);
    padded.set(samples);
    const now = this.clock.now();
    let marker = true;
    let start = now;
    if (this.streamEnd !== undefined) {
      const gapMs = Math.max(0, now - this.streamEnd);
      if (gapMs < PACKET_MS) {
        // Follows the previous play (its end timer merely fired a little late): the same
        // talkspurt, on the same 20 ms grid, timestamps contiguous, no marker.
        start = this.streamEnd;
        marker = false;
      } else {
        // The timestamp counts the silence between two plays too (RFC 3550 §5.1).
        this.ts = (this.ts + Math.round((gapMs * SAMPLES_PER_PACKET) / PACKET_MS)) >>> 0;
      }
    }
    return new Promise<void>((resolve) => {
      this.playing = { bytes: encodeG711(this.codec, padded), packets, next: 0, start, resolve };
      this.sendDue(marker);
    });
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.finishPlay();
  }

  /** Sends every packet that is due (normally one), then sleeps until the next one is. */
  private sendDue(marker: boolean): void {
    this.timer = undefined;
    const p = this.playing;
    if (p === undefined) return;
    const now = this.clock.now();
    const due = Math.floor((now - p.start) / PACKET_MS);
    if (due - p.next > MAX_CATCH_UP) p.start = now - p.next * PACKET_MS; // stalled: pace on from now
    while (p.next < p.packets && p.start + p.next * PACKET_MS <= now) {
      const off = p.next * SAMPLES_PER_PACKET;
      const pkt = buildRtp({ payloadType: this.pt, marker: marker && p.next === 0, sequence: this.seq, timestamp: this.ts, ssrc: this.ssrc }, p.bytes.subarray(off, off + SAMPLES_PER_PACKET));
      try {
        this.socket.send(pkt, this.remote.port, this.remote.address);
      } catch (err) {
        // A synchronous send error means the socket is gone (closed under us): stop, keep nothing.
        this.sendErrors?.warn({ err: (err as Error).message }, "greeting send failed: playback stopped");
        this.stop();
        return;
      }
      this.sent++;
      this.seq = (this.seq + 1) & 0xffff;
      this.ts = (this.ts + SAMPLES_PER_PACKET) >>> 0;
      p.next++;
    }
    // The play ends when its last packet's 20 ms are over: a following play() then continues
    // the stream seamlessly (no gap, no marker) and keeps the 20 ms spacing.
    const wake = p.start + p.next * PACKET_MS;
    this.timer = this.clock.setTimeout(() => (p.next < p.packets ? this.sendDue(marker) : this.endPlay(wake)), Math.max(0, wake - now));
  }

  private endPlay(end: number): void {
    this.timer = undefined;
    this.streamEnd = end;
    this.finishPlay();
  }

  private finishPlay(): void {
    const p = this.playing;
    this.playing = undefined;
    p?.resolve();
  }
}
