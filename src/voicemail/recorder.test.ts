import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { dominant, dtmfPayload, prng, rtp, tone } from "../../test/support/voicemail/audio.js";
import { MessageRecorder, REORDER_WINDOW } from "./recorder.js";
import type { MessageRecorderOptions, RecordingEndReason } from "./types.js";
import { alawmulaw } from "./deps.js";

const TE = 101;

/** The caller's stream: `seconds` of a 400 Hz tone as 20 ms PCMU packets, sequence and timestamp starting just before their wrap. */
function stream(seconds: number, opts: { seq0?: number; ts0?: number; ssrc?: number; hz?: number; amplitude?: number } = {}) {
  const samples = tone(opts.hz ?? 400, seconds * 8000, opts.amplitude ?? 8000);
  const packets: { seq: number; ts: number; buf: Buffer }[] = [];
  const seq0 = opts.seq0 ?? 65530;
  const ts0 = opts.ts0 ?? 0xffffffff - 480;
  for (let i = 0; i * 160 < samples.length; i++) {
    const seq = (seq0 + i) & 0xffff;
    const ts = (ts0 + i * 160) >>> 0;
    packets.push({ seq, ts, buf: rtp({ seq, ts, ssrc: opts.ssrc, marker: i === 0 }, alawmulaw.mulaw.encode(samples.subarray(i * 160, (i + 1) * 160))) });
  }
  return { samples, packets, decoded: alawmulaw.mulaw.decode(alawmulaw.mulaw.encode(samples)) };
}

function recorder(opts: Partial<MessageRecorderOptions> = {}) {
  const clock = new ManualClock(5_000);
  const ends: RecordingEndReason[] = [];
  const rec = new MessageRecorder({ maxLengthS: 120, telephoneEventPt: TE, clock, onEnd: (r) => ends.push(r), ...opts });
  return { clock, rec, ends };
}

/** Push each datagram 20 ms after the previous one (as they arrive on the wire). */
function feed(clock: ManualClock, rec: MessageRecorder, bufs: Buffer[]): void {
  for (const b of bufs) {
    rec.push(b);
    clock.advance(20);
  }
}

describe("voicemail recorder: jitter buffer", () => {
  it("an in-order stream across the sequence and timestamp wrap comes out sample for sample", () => {
    const { clock, rec } = recorder();
    const s = stream(2);
    feed(clock, rec, s.packets.map((p) => p.buf));
    const r = rec.finish();
    expect(r.reason).toBe("hangup");
    expect(r.durationS).toBe(2);
    expect(Array.from(r.samples)).toEqual(Array.from(s.decoded));
    expect(rec.stats).toMatchObject({ accepted: 100, malformed: 0, foreign: 0, late: 0, concealedSamples: 0 });
  });

  it("packets reordered within the window are put back in order (the wrap in the middle of it)", () => {
    const { clock, rec } = recorder();
    const s = stream(1, { seq0: 65520 });
    const order = s.packets.map((p) => p.buf);
    // Swap neighbours, and move every 10th packet 5 places later.
    for (let i = 0; i + 1 < order.length; i += 2) [order[i], order[i + 1]] = [order[i + 1]!, order[i]!];
    for (let i = 3; i + 5 < order.length; i += 10) order.splice(i + 5, 0, order.splice(i, 1)[0]!);
    feed(clock, rec, order);
    const r = rec.finish();
    expect(Array.from(r.samples)).toEqual(Array.from(s.decoded));
    expect(rec.stats.late).toBe(0);
  });

  it("a lost packet's 20 ms are filled with silence: same length, zeros in its place", () => {
    const { clock, rec } = recorder();
    const s = stream(1);
    feed(clock, rec, s.packets.filter((_, i) => i !== 10 && i !== 11).map((p) => p.buf));
    const r = rec.finish();
    expect(r.samples.length).toBe(8000);
    expect(Array.from(r.samples.subarray(1600, 1920))).toEqual(new Array(320).fill(0));
    expect(Array.from(r.samples.subarray(1920))).toEqual(Array.from(s.decoded.subarray(1920)));
    expect(rec.stats.concealedSamples).toBe(320);
  });

  it("a gap longer than the window: later packets released after the window, the missing one late when it comes", () => {
    const { clock, rec } = recorder();
    const s = stream(1);
    const bufs = s.packets.map((p) => p.buf);
    const late = bufs.splice(5, 1)[0]!;
    bufs.splice(5 + REORDER_WINDOW + 3, 0, late);
    feed(clock, rec, bufs);
    const r = rec.finish();
    expect(r.samples.length).toBe(8000);
    expect(rec.stats.late).toBe(1);
    expect(rec.stats.concealedSamples).toBe(160);
  });

  it("duplicates are dropped and counted; a duplicate's audio is not written twice", () => {
    const { clock, rec } = recorder();
    const s = stream(0.2);
    feed(clock, rec, [...s.packets.map((p) => p.buf), s.packets[3]!.buf, s.packets[9]!.buf, s.packets[9]!.buf]);
    const r = rec.finish();
    expect(Array.from(r.samples)).toEqual(Array.from(s.decoded));
    expect(rec.stats.late).toBe(3);
  });

  it("5 % loss and reordering still gives the right length (10 s) and the tone", () => {
    const { clock, rec } = recorder();
    const s = stream(10, { hz: 700 });
    const rand = prng(18);
    const kept = s.packets.filter((_, i) => i === 0 || i === s.packets.length - 1 || rand() >= 0.05);
    const lost = s.packets.length - kept.length;
    expect(lost).toBeGreaterThan(15);
    // Reorder: each packet delayed by 0–3 packet times (jitter up to 60 ms).
    const arrivals = kept.map((p, i) => ({ p, at: i * 20 + Math.floor(rand() * 4) * 20 + rand() }));
    arrivals.sort((a, b) => a.at - b.at);
    let reordered = 0;
    arrivals.forEach((a, i) => i > 0 && a.p.seq < arrivals[i - 1]!.p.seq && a.p.seq > 100 && reordered++);
    expect(reordered).toBeGreaterThan(20);
    feed(clock, rec, arrivals.map((a) => a.p.buf));
    const r = rec.finish();
    expect(r.durationS).toBe(10);
    expect(rec.stats.concealedSamples).toBe(lost * 160);
    expect(rec.stats.late).toBe(0);
    expect(dominant(r.samples, [400, 700, 1000])).toBe(700);
  });

  it("a timestamp forged far ahead cannot insert minutes of silence (capped by the arrival time)", () => {
    const { clock, rec } = recorder();
    const s = stream(1, { ts0: 1000, seq0: 1 });
    const bufs = s.packets.map((p) => p.buf);
    feed(clock, rec, bufs.slice(0, 10));
    feed(clock, rec, [rtp({ seq: 11, ts: 1000 + 10 * 160 + 8000 * 600 }, new Uint8Array(160).fill(0xff))]);
    feed(clock, rec, [rtp({ seq: 12, ts: 1000 + 11 * 160 + 8000 * 600 }, new Uint8Array(160).fill(0xff))]);
    const r = rec.finish();
    expect(r.durationS).toBeLessThan(1);
    expect(rec.stats.gapsCapped).toBe(1);
  });

  it("a sequence jump is believed only when the next packet follows it (RFC 3550 A.1)", () => {
    const { clock, rec } = recorder();
    feed(clock, rec, [rtp({ seq: 10, ts: 0 }, new Uint8Array(160)), rtp({ seq: 30000, ts: 160 }, new Uint8Array(160))]);
    expect(rec.stats.implausible).toBe(1);
    feed(clock, rec, [rtp({ seq: 11, ts: 160 }, new Uint8Array(160)), rtp({ seq: 40000, ts: 320 }, new Uint8Array(160)), rtp({ seq: 40001, ts: 480 }, new Uint8Array(160))]);
    expect(rec.finish().samples.length).toBe(4 * 160);
  });
});

describe("voicemail recorder: input checks", () => {
  it("locks to the first valid SSRC; other SSRCs and payload types are foreign; PCMA decoded", () => {
    const { clock, rec } = recorder();
    const a = tone(500, 320);
    feed(clock, rec, [
      rtp({ seq: 1, ts: 0, pt: 8, ssrc: 7 }, alawmulaw.alaw.encode(a.subarray(0, 160))),
      rtp({ seq: 2, ts: 160, pt: 0, ssrc: 8 }, new Uint8Array(160)),
      rtp({ seq: 2, ts: 160, pt: 18, ssrc: 7 }, new Uint8Array(20)),
      rtp({ seq: 2, ts: 160, pt: 8, ssrc: 7 }, alawmulaw.alaw.encode(a.subarray(160))),
    ]);
    const r = rec.finish();
    expect(Array.from(r.samples)).toEqual(Array.from(alawmulaw.alaw.decode(alawmulaw.alaw.encode(a))));
    expect(rec.stats).toMatchObject({ accepted: 2, foreign: 2 });
  });

  it("malformed datagrams are counted, never thrown, and never lock the SSRC", () => {
    const { clock, rec } = recorder();
    const good = rtp({ seq: 1, ts: 0, ssrc: 5 }, new Uint8Array(160));
    const bad: Buffer[] = [];
    bad.push(Buffer.alloc(0), Buffer.alloc(11), good.subarray(0, 11));
    const v1 = Buffer.from(good);
    v1[0] = 0x40; // version 1
    bad.push(v1);
    const cc = Buffer.from(good.subarray(0, 20));
    cc[0] = 0x8f; // 15 CSRCs = 60 bytes, only 8 there
    bad.push(cc);
    const ext = Buffer.from(good);
    ext[0] = 0x90;
    ext.writeUInt16BE(0xffff, 14); // extension length beyond the end
    bad.push(ext, Buffer.from(good.subarray(0, 14)).fill(0x90, 0, 1));
    const pad0 = Buffer.from(good);
    pad0[0] = 0xa0;
    pad0[pad0.length - 1] = 0; // padding count 0
    const padBig = Buffer.from(good);
    padBig[0] = 0xa0;
    padBig[padBig.length - 1] = 200; // more padding than payload
    bad.push(pad0, padBig);
    bad.push(rtp({ seq: 1, ts: 0, ssrc: 5, pt: TE }, Buffer.alloc(3))); // telephone-event shorter than 4 octets
    bad.push(rtp({ seq: 1, ts: 0, ssrc: 5 }, Buffer.alloc(4000))); // 500 ms in one packet
    feed(clock, rec, bad);
    expect(rec.stats.malformed).toBe(bad.length);
    expect(rec.stats.accepted).toBe(0);
    // A valid packet with padding, a CSRC and an extension: the payload is found past them all.
    const fancy = Buffer.concat([Buffer.from([0xb1, 0x00, 0, 2, 0, 0, 0, 160, 0, 0, 0, 9]), Buffer.alloc(4), Buffer.from([0xbe, 0xde, 0, 1, 1, 2, 3, 4]), Buffer.alloc(160, 0xff), Buffer.from([0, 0, 3])]);
    feed(clock, rec, [rtp({ seq: 1, ts: 0, ssrc: 9 }, new Uint8Array(160).fill(0xff)), fancy]);
    expect(rec.stats.accepted).toBe(2);
    expect(rec.finish().samples.length).toBe(320);
  });

  it("fuzz: random datagrams and random mutations of valid ones never throw; every one is counted once", () => {
    const valid = stream(0.2, { seq0: 100, ts0: 100 }).packets.map((p) => p.buf);
    const datagram = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(200)).map(([v, flips, cut]) => {
        const b = Buffer.from(v);
        for (const [i, x] of flips) if (i < b.length) b[i] = x;
        return b.subarray(0, Math.max(0, b.length - cut));
      }),
      fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.nat(), fc.boolean(), fc.integer({ min: 0, max: 255 })).map(([seq, ts, end, ev]) => rtp({ seq, ts, pt: TE }, dtmfPayload(ev, end, 800))),
    );
    fc.assert(
      fc.property(fc.array(datagram, { maxLength: 60 }), fc.boolean(), (dgrams, silence) => {
        const { clock, rec } = recorder({ maxLengthS: 2, silenceS: silence ? 0.5 : undefined });
        for (const d of dgrams) {
          rec.push(d);
          clock.advance(7);
        }
        const r = rec.finish();
        const st = rec.stats;
        expect(r.samples.length).toBeLessThanOrEqual(16000);
        if (rec.ended === undefined) expect(st.accepted + st.malformed + st.foreign + st.late + st.implausible).toBe(dgrams.length);
        expect(clock.pending()).toBe(0);
      }),
      { numRuns: 400, seed: 4733 },
    );
  });
});

describe("voicemail recorder: how a recording ends", () => {
  function dtmf(seq: number, ts: number, event: number, end: boolean, duration: number): Buffer {
    return rtp({ seq, ts, pt: TE, marker: duration === 400 && !end }, dtmfPayload(event, end, duration));
  }

  it("DTMF #: at its end bit, once despite the three end packets; a digit before it is counted, not an end", () => {
    const { clock, rec, ends } = recorder();
    const s = stream(1, { seq0: 1, ts0: 0 }).packets.map((p) => p.buf);
    feed(clock, rec, s.slice(0, 20));
    // "5" pressed (event 5), then "#" (event 11): start, continuation, three end packets each (RFC 4733 §2.5.1.4).
    const five = [dtmf(21, 3200, 5, false, 400), dtmf(22, 3200, 5, false, 800), dtmf(23, 3200, 5, true, 1200), dtmf(24, 3200, 5, true, 1200), dtmf(25, 3200, 5, true, 1200)];
    feed(clock, rec, five);
    expect(rec.ended).toBeUndefined();
    feed(clock, rec, [dtmf(26, 4800, 11, false, 400), dtmf(27, 4800, 11, false, 800)]);
    expect(rec.ended).toBeUndefined();
    feed(clock, rec, [dtmf(28, 4800, 11, true, 1200), dtmf(29, 4800, 11, true, 1200), dtmf(30, 4800, 11, true, 1200)]);
    expect(rec.ended).toBe("dtmf");
    expect(ends).toEqual(["dtmf"]);
    expect(rec.stats.dtmfEvents).toBe(2);
    feed(clock, rec, s.slice(20)); // audio after the end is not recorded
    const r = rec.finish();
    expect(r.reason).toBe("dtmf");
    expect(r.samples.length).toBe(20 * 160);
    expect(clock.pending()).toBe(0);
  });

  it("an end packet that arrives without its start still ends it; # without a negotiated telephone-event is not DTMF", () => {
    const a = recorder();
    feed(a.clock, a.rec, [rtp({ seq: 1, ts: 0 }, new Uint8Array(160)), dtmf(3, 320, 11, true, 1200)]);
    expect(a.rec.ended).toBe("dtmf");
    const b = recorder({ telephoneEventPt: undefined });
    feed(b.clock, b.rec, [rtp({ seq: 1, ts: 0 }, new Uint8Array(160)), dtmf(3, 320, 11, true, 1200)]);
    expect(b.rec.ended).toBeUndefined();
    expect(b.rec.stats.foreign).toBe(1);
  });

  it("long silence: ends silenceS after the last loud packet, keeping half a second of the quiet", () => {
    const { clock, rec, ends } = recorder({ silenceS: 3 });
    const t0 = clock.now();
    const speech = stream(2, { seq0: 1, ts0: 0 }).packets.map((p) => p.buf);
    feed(clock, rec, speech);
    // Line noise well under the threshold (about −50 dBFS) keeps coming.
    const noise = stream(10, { seq0: 101, ts0: 16000, amplitude: 100 }).packets.map((p) => p.buf);
    let n = 0;
    while (rec.ended === undefined && n < noise.length) feed(clock, rec, [noise[n++]!]);
    expect(ends).toEqual(["silence"]);
    // The last loud packet arrived at t0 + 1980; 3 s later the recording ended.
    expect(clock.now() - t0).toBeGreaterThanOrEqual(4980);
    expect(clock.now() - t0).toBeLessThanOrEqual(5000);
    const r = rec.finish();
    expect(r.reason).toBe("silence");
    expect(r.durationS).toBe(2.5);
  });

  it("silence with no packets at all (the caller's side stopped sending) ends too", () => {
    const { clock, rec, ends } = recorder({ silenceS: 5 });
    feed(clock, rec, stream(1, { seq0: 1, ts0: 0 }).packets.map((p) => p.buf));
    // The last packet arrived 20 ms ago; silence counts from its arrival.
    clock.advance(4979);
    expect(ends).toEqual([]);
    clock.advance(1);
    expect(ends).toEqual(["silence"]);
    expect(rec.finish().durationS).toBe(1);
  });

  it("max length: cut at exactly maxLengthS of audio", () => {
    const { clock, rec, ends } = recorder({ maxLengthS: 3 });
    const s = stream(5, { seq0: 1, ts0: 0 });
    feed(clock, rec, s.packets.map((p) => p.buf));
    expect(ends).toEqual(["max_length"]);
    const r = rec.finish();
    expect(r.reason).toBe("max_length");
    expect(r.samples.length).toBe(24000);
    expect(Array.from(r.samples)).toEqual(Array.from(s.decoded.subarray(0, 24000)));
  });

  it("max length by the clock when too few packets come to fill it", () => {
    const { clock, ends } = recorder({ maxLengthS: 3 });
    clock.advance(3999);
    expect(ends).toEqual([]);
    clock.advance(1);
    expect(ends).toEqual(["max_length"]);
  });

  it("finish() is the caller's BYE: reason hangup, the held packets flushed, idempotent, later pushes ignored", () => {
    const { clock, rec, ends } = recorder({ silenceS: 10 });
    const s = stream(0.1, { seq0: 1, ts0: 0 }).packets.map((p) => p.buf);
    feed(clock, rec, [s[0]!, s[2]!, s[3]!]); // 2 is waiting for 1
    const r = rec.finish();
    expect(r).toMatchObject({ reason: "hangup", durationS: 0.08 });
    rec.push(s[4]!);
    expect(rec.finish()).toBe(r);
    expect(ends).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it("bad limits are a clear error at construction", () => {
    expect(() => new MessageRecorder({ maxLengthS: 0 })).toThrow(/max length/);
    expect(() => new MessageRecorder({ maxLengthS: 10, telephoneEventPt: 8 })).toThrow(/telephone-event payload type 8/);
  });
});
