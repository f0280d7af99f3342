/**
 * Test support for the answering machine: a logger whose lines can be read back, tones, a
 * Goertzel detector (the power of one frequency), and RTP packets built by hand.
 */
import { Writable } from "node:stream";
import { createRootLogger, type Logger } from "../../../src/log.js";

/** A root logger whose JSON lines land in `lines`. */
export function capturingLogger(lines: Record<string, unknown>[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return createRootLogger({ level: "debug", destination: sink });
}

/** A sine at `hz`, 8 kHz, `amplitude` of 32767, `samples` long, starting at phase sample `from`. */
export function tone(hz: number, samples: number, amplitude = 8000, from = 0): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * (i + from)) / 8000));
  return out;
}

/** Goertzel: the relative power of `hz` in the samples (normalised by length). */
export function powerAt(samples: ArrayLike<number>, hz: number): number {
  const k = (2 * Math.PI * hz) / 8000;
  const coeff = 2 * Math.cos(k);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < samples.length; i++) {
    const s0 = samples[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (samples.length * samples.length);
}

/** The strongest of the candidate frequencies in the samples. */
export function dominant(samples: ArrayLike<number>, candidates: number[]): number {
  let best = candidates[0]!;
  let bestP = -1;
  for (const hz of candidates) {
    const p = powerAt(samples, hz);
    if (p > bestP) (bestP = p), (best = hz);
  }
  return best;
}

export interface RtpFields {
  pt?: number;
  seq: number;
  ts: number;
  ssrc?: number;
  marker?: boolean;
}

/** A plain RTP packet (V=2, no padding/extension/CSRC). */
export function rtp(f: RtpFields, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = (f.marker ? 0x80 : 0) | (f.pt ?? 0);
  b.writeUInt16BE(f.seq & 0xffff, 2);
  b.writeUInt32BE(f.ts >>> 0, 4);
  b.writeUInt32BE((f.ssrc ?? 0x11223344) >>> 0, 8);
  b.set(payload, 12);
  return b;
}

/** An RFC 4733 telephone-event payload. */
export function dtmfPayload(event: number, end: boolean, duration: number, volume = 10): Buffer {
  const p = Buffer.alloc(4);
  p[0] = event;
  p[1] = (end ? 0x80 : 0) | (volume & 0x3f);
  p.writeUInt16BE(duration, 2);
  return p;
}

export { prng } from "../prng.js";
