import { describe, expect, it } from "vitest";
import { ManualClock, type Clock, type TimerHandle } from "../clock.js";
import { silentLogger } from "../log.js";
import { dominant, tone } from "../../test/support/voicemail/audio.js";
import { decodeG711 } from "./g711.js";
import { GreetingPlayer } from "./greeting-player.js";
import { beepTone, defaultGreeting } from "./greeting.js";
import { parseRtp } from "./rtp.js";

interface Sent {
  at: number;
  buf: Buffer;
  port: number;
  address: string;
}

/** A ManualClock whose k-th timer fires `lateBy[k]` ms after it was due (a busy event loop). */
class LateClock implements Clock {
  private k = 0;
  constructor(
    readonly inner: ManualClock,
    private readonly lateBy: number[],
  ) {}
  now(): number {
    return this.inner.now();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.inner.setTimeout(fn, ms + (this.lateBy[this.k++] ?? 0));
  }
  clearTimeout(h: TimerHandle | undefined): void {
    this.inner.clearTimeout(h);
  }
}

function rig(opts: { random?: Buffer; codec?: "PCMU" | "PCMA"; lateBy?: number[] } = {}) {
  const manual = new ManualClock(1_000_000);
  const clock = opts.lateBy ? new LateClock(manual, opts.lateBy) : manual;
  const sent: Sent[] = [];
  const socket = { send: (buf: Buffer, port: number, address: string) => void sent.push({ at: clock.now(), buf, port, address }) };
  const random = opts.random ?? Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xff, 0xfe, 0xff, 0xff, 0xff, 0x00]);
  const player = new GreetingPlayer({ socket, remote: { address: "198.18.0.9", port: 40000 }, clock, randomBytes: () => random, codec: opts.codec, log: silentLogger() });
  return { clock: manual, sent, player, socket };
}

/** Advance the clock in 1 ms steps (a real timer's granularity) until the promise settles, bounded. */
async function runUntil(clock: ManualClock, p: Promise<void>, maxMs = 120_000): Promise<void> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < maxMs && !done; i++) {
    clock.advance(1);
    await Promise.resolve();
  }
  await Promise.resolve();
  expect(done).toBe(true);
}

describe("voicemail greeting player", () => {
  it("every packet: V=2, PT 0, 172 bytes, SSRC fixed, seq +1 and timestamp +160 (with wrap), sent at start + n×20 ms", async () => {
    const { clock, sent, player } = rig();
    const samples = tone(1000, 160 * 10);
    const t0 = clock.now();
    await runUntil(clock, player.play(samples));
    expect(sent).toHaveLength(10);
    expect(player.packetsSent).toBe(10);
    sent.forEach((s, n) => {
      expect(s.at).toBe(t0 + n * 20);
      expect(s.port).toBe(40000);
      expect(s.address).toBe("198.18.0.9");
      expect(s.buf).toHaveLength(172);
      expect(s.buf[0]).toBe(0x80); // V=2, no padding, extension or CSRC
      const p = parseRtp(s.buf)!;
      expect(p.payloadType).toBe(0);
      expect(p.marker).toBe(n === 0);
      expect(p.ssrc).toBe(0xdeadbeef);
      // Initial seq 0xfffe and timestamp 0xffffff00 from the random bytes: both wrap here.
      expect(p.sequence).toBe((0xfffe + n) & 0xffff);
      expect(p.timestamp).toBe((0xffffff00 + n * 160) >>> 0);
    });
    // The play resolved 20 ms after the last packet went out (its audio is over by then).
    expect(clock.now() - t0).toBe(200);
  });

  it("the audio sent decodes back to the samples (µ-law), the last packet padded with silence", async () => {
    const { clock, sent, player } = rig();
    const samples = tone(440, 160 * 3 + 50);
    await runUntil(clock, player.play(samples));
    expect(sent).toHaveLength(4);
    const decoded = decodeG711("PCMU", Buffer.concat(sent.map((s) => parseRtp(s.buf)!.payload)));
    for (let i = 0; i < samples.length; i++) expect(Math.abs(decoded[i]! - samples[i]!)).toBeLessThanOrEqual(Math.abs(samples[i]!) / 16 + 8);
    expect(Array.from(decoded.subarray(samples.length))).toEqual(new Array(110).fill(0));
  });

  it("PCMA when the call negotiated it: PT 8", async () => {
    const { clock, sent, player } = rig({ codec: "PCMA" });
    await runUntil(clock, player.play(new Int16Array(320)));
    expect(sent.map((s) => parseRtp(s.buf)!.payloadType)).toEqual([8, 8]);
  });

  it("a late timer does not push the rest of the schedule back (absolute schedule)", async () => {
    const { clock, sent, player } = rig({ lateBy: [27] });
    const t0 = clock.now();
    const done = player.play(new Int16Array(160 * 6));
    expect(sent).toHaveLength(1);
    // The event loop is busy: nothing fires until 47 ms; then 2 packets are due at once.
    clock.advance(47);
    expect(sent.map((s) => s.at - t0)).toEqual([0, 47, 47]);
    // Back on the original grid afterwards: 60, 80, 100 (not 67, 87, 107).
    await runUntil(clock, done);
    expect(sent.map((s) => s.at - t0)).toEqual([0, 47, 47, 60, 80, 100]);
  });

  it("a long stall (event loop blocked) resumes pacing from now instead of bursting", () => {
    const { clock, sent, player } = rig({ lateBy: [980] });
    const t0 = clock.now();
    void player.play(new Int16Array(160 * 20));
    clock.advance(1000);
    // Sent at t0, then one packet at +1000 (rescheduled), then every 20 ms.
    expect(sent.map((s) => s.at - t0)).toEqual([0, 1000]);
    clock.advance(40);
    expect(sent.map((s) => s.at - t0)).toEqual([0, 1000, 1020, 1040]);
    // Sequence and timestamp stay contiguous: the audio is delayed, not cut.
    expect(sent.map((s) => (parseRtp(s.buf)!.sequence - parseRtp(sent[0]!.buf)!.sequence) & 0xffff)).toEqual([0, 1, 2, 3]);
  });

  it("greeting then beep: one stream, no gap (no new marker, timestamps contiguous, 20 ms spacing)", async () => {
    const { clock, sent, player } = rig({ random: Buffer.alloc(10) });
    const t0 = clock.now();
    await runUntil(clock, player.play(new Int16Array(160 * 3)));
    await runUntil(clock, player.play(new Int16Array(160 * 2)));
    const h = sent.map((s) => parseRtp(s.buf)!);
    expect(sent.map((s) => s.at - t0)).toEqual([0, 20, 40, 60, 80]);
    expect(h.map((p) => p.timestamp)).toEqual([0, 160, 320, 480, 640]);
    expect(h.map((p) => p.sequence)).toEqual([0, 1, 2, 3, 4]);
    expect(h.map((p) => p.marker)).toEqual([true, false, false, false, false]);
  });

  it("greeting then beep when the greeting's end timer fires late: still one talkspurt on the same grid", async () => {
    // Timers 1 and 2 pace the greeting's 2nd and 3rd packets; timer 3 ends the play, 4 ms late.
    const { clock, sent, player } = rig({ random: Buffer.alloc(10), lateBy: [0, 0, 4] });
    const t0 = clock.now();
    await runUntil(clock, player.play(new Int16Array(160 * 3)));
    expect(clock.now() - t0).toBeGreaterThanOrEqual(64);
    await runUntil(clock, player.play(new Int16Array(160 * 2)));
    const h = sent.map((s) => parseRtp(s.buf)!);
    expect(sent.map((s) => s.at - t0)).toEqual([0, 20, 40, 64, 80]);
    expect(h.map((p) => p.timestamp)).toEqual([0, 160, 320, 480, 640]);
    expect(h.map((p) => p.marker)).toEqual([true, false, false, false, false]);
  });

  it("a play after a pause is a new talkspurt: marker set, timestamp advanced by the pause", async () => {
    const { clock, sent, player } = rig({ random: Buffer.alloc(10) });
    await runUntil(clock, player.play(new Int16Array(160)));
    clock.advance(300);
    await runUntil(clock, player.play(new Int16Array(160)));
    const h = sent.map((s) => parseRtp(s.buf)!);
    expect(h.map((p) => p.marker)).toEqual([true, true]);
    expect(h[1]!.timestamp).toBe(160 + 300 * 8);
    expect(h[1]!.sequence).toBe(1);
  });

  it("stop() ends a play at once, resolves it, and later plays send nothing", async () => {
    const { clock, sent, player } = rig();
    const done = player.play(new Int16Array(160 * 100));
    clock.advance(100);
    expect(sent).toHaveLength(6);
    player.stop();
    await done;
    clock.advance(1000);
    expect(sent).toHaveLength(6);
    await player.play(new Int16Array(160));
    expect(sent).toHaveLength(6);
    expect(clock.pending()).toBe(0);
  });

  it("a send that throws (socket closed) stops playback and resolves; no timer left", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const socket = {
      send: () => {
        if (++calls === 3) throw new Error("Not running");
      },
    };
    const player = new GreetingPlayer({ socket, remote: { address: "127.0.0.1", port: 9 }, clock, log: silentLogger() });
    const done = player.play(new Int16Array(160 * 10));
    clock.advance(100);
    await done;
    expect(player.packetsSent).toBe(2);
    expect(clock.pending()).toBe(0);
  });

  it("setRemote: later packets go to the new port (symmetric RTP)", async () => {
    const { clock, sent, player } = rig();
    const done = player.play(new Int16Array(160 * 3));
    player.setRemote({ address: "198.18.0.9", port: 41234 });
    await runUntil(clock, done);
    expect(sent.map((s) => s.port)).toEqual([40000, 41234, 41234]);
  });

  it("random SSRC, sequence and timestamp by default (crypto)", () => {
    const clock = new ManualClock();
    const firsts = [0, 1, 2].map(() => {
      const sent: Buffer[] = [];
      void new GreetingPlayer({ socket: { send: (b) => void sent.push(b) }, remote: { address: "127.0.0.1", port: 9 }, clock }).play(new Int16Array(160));
      return parseRtp(sent[0]!)!;
    });
    expect(new Set(firsts.map((p) => p.ssrc)).size).toBe(3);
  });
});

describe("voicemail built-in sounds", () => {
  it("the default greeting is a short chime of three rising notes, the beep 0.5 s of 1 kHz", () => {
    const g = defaultGreeting();
    expect(g.length / 8000).toBeGreaterThan(1);
    expect(g.length / 8000).toBeLessThan(3);
    const note = Math.round(0.35 * 8000);
    const candidates = [523.25, 659.25, 783.99, 1000, 440];
    expect([0, 1, 2].map((n) => dominant(g.subarray(n * note, n * note + 0.2 * 8000), candidates))).toEqual([523.25, 659.25, 783.99]);
    const b = beepTone();
    expect(b.length).toBe(4000);
    expect(dominant(b, candidates)).toBe(1000);
    expect(Math.max(...b)).toBeGreaterThan(8000);
  });
});
