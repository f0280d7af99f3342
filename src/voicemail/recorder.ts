/**
 * Records the caller's RTP into 8 kHz PCM16. Every datagram is hostile: it is parsed and checked
 * (rtp.ts) before anything is kept, the first valid packet's SSRC is the only one taken after it
 * (RFC 3550 §8.2: a second source on the session is not our caller), and nothing in a packet
 * can make the recording longer than the time that actually passed.
 *
 * A small jitter buffer puts packets back in sequence order (16-bit sequence numbers extended
 * over wrap as in RFC 3550 A.1) and waits at most REORDER_WINDOW packets for a missing one.
 * Audio is placed by RTP timestamp: a gap between two packets (loss, or a sender's silence
 * suppression, RFC 3551 §4.1) is filled with silence, capped by the arrival time between them
 * so a forged or rebased timestamp cannot insert minutes of nothing; an overlap is trimmed.
 *
 * Ends on: DTMF `#` (RFC 4733 §3.2 event 11, at its end bit; an event's packets share one RTP
 * timestamp (§2.5.1.2) and its end packet is sent three times (§2.5.1.4), so events are told
 * apart by timestamp and counted once), the length limit, `silenceS` of continuous quiet (no
 * packet louder than the threshold arrived), or finish() (the caller's BYE).
 */
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { decodeG711, PT_PCMA, PT_PCMU } from "./g711.js";
import { parseRtp, parseTelephoneEvent } from "./rtp.js";
import { SAMPLE_RATE, type MessageRecorderApi, type MessageRecorderOptions, type RecorderStats, type RecordingEndReason, type RecordingLimits, type RecordingResult } from "./types.js";

/** Packets held back waiting for a missing one: 160 ms at 20 ms packets. */
export const REORDER_WINDOW = 8;
/** RFC 3550 A.1: a sequence jump of MAX_DROPOUT or more needs a second packet in sequence to be believed; MAX_MISORDER back is a late packet. */
const MAX_DROPOUT = 1000;
const MAX_MISORDER = 100;
/** Silence filled for a gap may exceed the arrival time between its packets by this much (reorder slack): 100 ms. */
const GAP_SLACK = SAMPLE_RATE / 10;
/** More than 200 ms of G.711 in one packet is no phone's packetization (RFC 3551 §4.2: 20 ms default). */
const MAX_PAYLOAD = 1600;
/** After the length limit, the wall clock waits this long for the last packets before ending anyway. */
const MAX_LENGTH_GRACE_MS = 1000;
/** RFC 4733 §3.2: events 0–9 digits, 10 `*`, 11 `#`. */
const EVENT_HASH = 11;
/** A silence end keeps this much of the quiet at the end, so the message does not stop abruptly. */
const SILENCE_TAIL = SAMPLE_RATE / 2;
const DEFAULT_THRESHOLD = 300;
/** Telephone-event timestamps remembered to count each event once. */
const EVENTS_REMEMBERED = 16;

interface Held {
  /** RTP timestamp (32-bit). */
  ts: number;
  arrival: number;
  /** null for a telephone-event packet: it holds a sequence number, not audio. */
  audio: Int16Array | null;
  loud: boolean;
}

export class MessageRecorder implements MessageRecorderApi {
  private readonly clock: Clock;
  private readonly maxSamples: number;
  private readonly silenceMs: number;
  private readonly threshold: number;
  private readonly tePt: number | undefined;
  private readonly onEnd: ((reason: RecordingEndReason) => void) | undefined;
  private readonly log: Logger | undefined;
  private readonly malformedLog: RateLimitedLog | undefined;
  private readonly startedAt: number;

  private ssrc: number | undefined;
  /** Extended (wrap-counted) sequence numbers: the highest seen and the next to release. */
  private highestSeq = 0;
  private nextSeq = 0;
  /** False until the first release: the first packet to arrive need not be the first sent. */
  private started = false;
  /** A far sequence jump waits for its successor here (RFC 3550 A.1 bad_seq). */
  private badSeq = -1;
  private readonly held = new Map<number, Held>();

  private out = new Int16Array(SAMPLE_RATE * 10);
  private written = 0;
  /** Where the last released audio ended: RTP timestamp and arrival time. */
  private lastEndTs: number | undefined;
  private lastArrival = 0;
  private loudEnd = 0;
  private lastLoudAt: number;
  private readonly events: number[] = [];

  private endReason: RecordingEndReason | undefined;
  private result: RecordingResult | undefined;
  private timer: TimerHandle | undefined;
  private readonly st: RecorderStats = { accepted: 0, malformed: 0, foreign: 0, late: 0, implausible: 0, overlaps: 0, gapsCapped: 0, dtmfEvents: 0, concealedSamples: 0 };

  constructor(opts: MessageRecorderOptions) {
    checkRecorderOptions(opts);
    this.clock = opts.clock ?? systemClock;
    this.maxSamples = Math.round(opts.maxLengthS * SAMPLE_RATE);
    this.silenceMs = opts.silenceS !== undefined && opts.silenceS > 0 ? opts.silenceS * 1000 : 0;
    this.threshold = opts.silenceThreshold ?? DEFAULT_THRESHOLD;
    this.tePt = opts.telephoneEventPt;
    this.onEnd = opts.onEnd;
    this.log = opts.log?.child({ module: "voicemail.recorder" });
    this.malformedLog = this.log !== undefined ? new RateLimitedLog(this.log, 1, () => this.clock.now()) : undefined;
    this.startedAt = this.clock.now();
    this.lastLoudAt = this.startedAt;
    this.schedule();
  }

  get ended(): RecordingEndReason | undefined {
    return this.endReason;
  }

  get stats(): Readonly<RecorderStats> {
    return this.st;
  }

  push(datagram: Buffer): void {
    if (this.endReason !== undefined || this.result !== undefined) return;
    const pkt = parseRtp(datagram);
    if (pkt === null) return this.malformed("not RTP", datagram.length);
    const pt = pkt.payloadType;
    const isEvent = this.tePt !== undefined && pt === this.tePt;
    if (!isEvent && pt !== PT_PCMU && pt !== PT_PCMA) {
      this.st.foreign++;
      return;
    }
    if (pkt.payload.length > MAX_PAYLOAD) return this.malformed("payload too long", pkt.payload.length);
    const event = isEvent ? parseTelephoneEvent(pkt.payload) : null;
    if (isEvent && event === null) return this.malformed("telephone-event too short", pkt.payload.length);
    if (this.ssrc === undefined) {
      // The first valid packet names the stream: its SSRC, and where the sequence starts.
      this.ssrc = pkt.ssrc;
      this.highestSeq = pkt.sequence;
    } else if (pkt.ssrc !== this.ssrc) {
      this.st.foreign++;
      return;
    }
    const now = this.clock.now();
    // RFC 3550 A.1: the 16-bit sequence number extended relative to the highest seen so far.
    const udelta = (pkt.sequence - this.highestSeq) & 0xffff;
    let seq: number;
    if (udelta < MAX_DROPOUT) seq = this.highestSeq + udelta; // in order, with a permissible gap
    else if (udelta > 0x10000 - MAX_MISORDER) seq = this.highestSeq - (0x10000 - udelta); // reordered or duplicate
    else if (pkt.sequence !== this.badSeq) {
      // A very large jump: believed only if the next packet follows it (A.1 bad_seq).
      this.badSeq = (pkt.sequence + 1) & 0xffff;
      this.st.implausible++;
      return;
    } else {
      // Two packets in sequence after the jump: the sender restarted; take what is held, then go on from here.
      seq = this.highestSeq + udelta;
      this.drain(true);
      this.nextSeq = seq;
    }
    if ((this.started && seq < this.nextSeq) || this.held.has(seq)) {
      this.st.late++;
      return;
    }
    if (seq > this.highestSeq) this.highestSeq = seq;
    this.badSeq = -1;
    this.st.accepted++;

    if (event !== null) {
      this.held.set(seq, { ts: pkt.timestamp, arrival: now, audio: null, loud: false });
      this.dtmf(pkt.timestamp, event.event, event.end);
      if (this.endReason !== undefined) return;
    } else {
      const audio = decodeG711(pt === PT_PCMA ? "PCMA" : "PCMU", pkt.payload);
      const loud = rms(audio) >= this.threshold;
      if (loud) this.lastLoudAt = now;
      this.held.set(seq, { ts: pkt.timestamp, arrival: now, audio, loud });
    }
    this.drain(false);
  }

  finish(): RecordingResult {
    if (this.result !== undefined) return this.result;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.endReason === undefined) this.drain(true);
    const samples = this.out.slice(0, this.written);
    this.out = new Int16Array(0);
    this.result = { samples, reason: this.endReason ?? "hangup", durationS: Math.round((samples.length / SAMPLE_RATE) * 100) / 100 };
    return this.result;
  }

  private malformed(why: string, length: number): void {
    this.st.malformed++;
    this.malformedLog?.debug({ why, length, malformed: this.st.malformed }, "voicemail: datagram dropped");
  }

  /** RFC 4733: one event = one timestamp; `#` ends the message at its end bit. */
  private dtmf(ts: number, event: number, end: boolean): void {
    if (!this.events.includes(ts)) {
      this.events.push(ts);
      if (this.events.length > EVENTS_REMEMBERED) this.events.shift();
      this.st.dtmfEvents++;
    }
    if (end && event === EVENT_HASH) this.end("dtmf");
  }

  /**
   * Releases held packets in sequence order; skips a hole once more than the window is waiting
   * (or when forced). Nothing is released before the window first fills: the stream's first
   * packets may arrive out of order too.
   */
  private drain(force: boolean): void {
    for (let guard = 0; guard < 100_000; guard++) {
      if (this.started) {
        const h = this.held.get(this.nextSeq);
        if (h !== undefined) {
          this.held.delete(this.nextSeq);
          this.nextSeq++;
          if (h.audio !== null) this.write(h);
          continue;
        }
      }
      if (this.held.size === 0 || (!force && this.held.size <= REORDER_WINDOW)) return;
      let min = Infinity;
      for (const k of this.held.keys()) if (k < min) min = k;
      this.nextSeq = min; // the missing packets are lost: their time is filled from the timestamps
      this.started = true;
    }
  }

  private write(h: Held): void {
    let audio = h.audio!;
    if (this.lastEndTs !== undefined) {
      let gap = (h.ts - this.lastEndTs) | 0; // signed: timestamps wrap at 2^32
      if (gap < 0) {
        // Overlaps what is already written (a duplicate under another sequence number, or a rebased stream): keep only what is new.
        if (-gap >= audio.length) {
          this.st.overlaps++;
          return;
        }
        audio = audio.subarray(-gap);
        gap = 0;
      }
      const bound = Math.max(0, Math.round(((h.arrival - this.lastArrival) * SAMPLE_RATE) / 1000)) + GAP_SLACK;
      if (gap > bound) {
        this.st.gapsCapped++;
        gap = bound;
      }
      if (gap > 0) this.st.concealedSamples += this.append(new Int16Array(gap));
    }
    this.lastEndTs = (h.ts + h.audio!.length) >>> 0;
    this.lastArrival = h.arrival;
    this.append(audio);
    if (h.loud) this.loudEnd = this.written;
    if (this.written >= this.maxSamples) this.end("max_length");
  }

  /** Appends up to the length limit; returns how many samples went in. */
  private append(s: Int16Array): number {
    const n = Math.min(s.length, this.maxSamples - this.written);
    if (n <= 0) return 0;
    if (this.written + n > this.out.length) {
      const grown = new Int16Array(Math.min(this.maxSamples, Math.max(this.out.length * 2, this.written + n)));
      grown.set(this.out.subarray(0, this.written));
      this.out = grown;
    }
    this.out.set(s.subarray(0, n), this.written);
    this.written += n;
    return n;
  }

  private end(reason: RecordingEndReason): void {
    if (this.endReason !== undefined) return;
    this.endReason = reason;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.drain(true);
    if (reason === "silence") this.written = Math.min(this.written, this.loudEnd + SILENCE_TAIL);
    this.log?.debug({ reason, samples: this.written, ...this.st }, "voicemail recording ended");
    this.onEnd?.(reason);
  }

  /** One timer at the earliest deadline (length limit, silence); re-armed when it fires early (a packet moved the silence on). */
  private schedule(): void {
    const now = this.clock.now();
    const maxAt = this.startedAt + (this.maxSamples * 1000) / SAMPLE_RATE + MAX_LENGTH_GRACE_MS;
    const silenceAt = this.silenceMs > 0 ? this.lastLoudAt + this.silenceMs : Infinity;
    if (now >= maxAt) return this.end("max_length");
    if (now >= silenceAt) return this.end("silence");
    this.timer = this.clock.setTimeout(() => this.schedule(), Math.min(maxAt, silenceAt) - now);
  }
}

/** Throws a RangeError for limits no recording can run with (a config bug, found before any call). */
export function checkRecorderOptions(opts: RecordingLimits & { telephoneEventPt?: number }): void {
  if (!(opts.maxLengthS > 0 && opts.maxLengthS <= 3600)) throw new RangeError(`voicemail max length ${opts.maxLengthS} s: must be in (0, 3600]`);
  if (opts.silenceS !== undefined && !(opts.silenceS >= 0 && Number.isFinite(opts.silenceS))) throw new RangeError(`voicemail silence ${opts.silenceS} s: must be 0 (off) or more`);
  if (opts.telephoneEventPt !== undefined && !(Number.isInteger(opts.telephoneEventPt) && opts.telephoneEventPt >= 96 && opts.telephoneEventPt <= 127)) {
    throw new RangeError(`telephone-event payload type ${opts.telephoneEventPt}: must be dynamic (96–127, RFC 3551 §3)`);
  }
}

/** Root mean square of the samples (0 for none). */
function rms(s: Int16Array): number {
  if (s.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i]! * s[i]!;
  return Math.sqrt(sum / s.length);
}
