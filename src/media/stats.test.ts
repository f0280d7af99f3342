import { describe, expect, it } from "vitest";
import { F, STREAM_FIELDS, lostOf, recordRtp, resetStream, streamReport } from "./stats.js";

function rtp(seq: number, ts: number, ssrc = 0x11223344, size = 172): Buffer {
  const b = Buffer.alloc(size);
  b[0] = 0x80;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

function fresh(): Float64Array {
  const s = new Float64Array(STREAM_FIELDS);
  resetStream(s, 0);
  return s;
}

describe("RTP stream stats", () => {
  it("counts packets and bytes, no loss and zero jitter for a perfect 20 ms stream", () => {
    const s = fresh();
    for (let i = 0; i < 100; i++) recordRtp(s, 0, rtp(1000 + i, 5000 + i * 160), i * 20);
    const r = streamReport(s, 0).rx;
    expect(r).toMatchObject({ packets: 100, bytes: 17200, lost: 0, jitter: 0, jitterMs: 0 });
  });

  it("counts sequence gaps as loss, across a 16-bit wrap", () => {
    const s = fresh();
    let n = 0;
    for (let i = 0; i < 200; i++) {
      if (i % 10 === 3) continue; // 20 dropped
      recordRtp(s, 0, rtp(65500 + i, i * 160), i * 20);
      n++;
    }
    expect(n).toBe(180);
    expect(s[F.cycles]).toBe(65536);
    expect(lostOf(s, 0)).toBe(20);
  });

  it("does not count a reordered packet as loss", () => {
    const s = fresh();
    for (const seq of [1, 2, 4, 3, 5]) recordRtp(s, 0, rtp(seq, seq * 160), seq * 20);
    expect(lostOf(s, 0)).toBe(0);
  });

  it("keeps earlier loss when the SSRC changes", () => {
    const s = fresh();
    for (const seq of [1, 2, 5]) recordRtp(s, 0, rtp(seq, seq * 160, 1), seq * 20);
    for (const seq of [900, 901, 903]) recordRtp(s, 0, rtp(seq, seq * 160, 2), 200 + seq);
    expect(lostOf(s, 0)).toBe(3);
  });

  it("computes RFC 3550 A.8 jitter: alternating ±4 ms arrival converges towards 32 units", () => {
    const s = fresh();
    for (let i = 0; i < 2000; i++) recordRtp(s, 0, rtp(i, i * 160), i * 20 + (i % 2 ? 4 : 0));
    // |D| = 4 ms = 32 timestamp units each packet; J → 32.
    const r = streamReport(s, 0).rx;
    expect(r.jitter).toBeGreaterThan(31.5);
    expect(r.jitter).toBeLessThanOrEqual(32);
    expect(r.jitterMs).toBeCloseTo(4, 1);
  });

  it("counts a non-RTP packet but leaves sequence state alone", () => {
    const s = fresh();
    recordRtp(s, 0, Buffer.from("hello"), 0);
    expect(s[F.rtpPackets]).toBe(1);
    expect(s[F.ssrc]).toBe(-1);
  });
});
