/**
 * `npx vite-node bench/voicemail-pacing.ts [-- SECONDS]`: one answering-machine session over real
 * UDP on 127.0.0.1 with the real clock: the greeting and beep are received and timed (spacing of
 * the 20 ms packets as they arrive), then a 400 Hz tone is sent back as paced PCMU for SECONDS
 * (default 2) and the session hung up. Prints the spacing figures, the recorded length and the
 * recording's dominant frequency. Loopback only; about SECONDS + 3 s.
 */
import dgram from "node:dgram";
import { systemClock } from "../src/clock.js";
import { silentLogger } from "../src/log.js";
import { beepTone, defaultGreeting } from "../src/voicemail/greeting.js";
import { parseRtp } from "../src/voicemail/rtp.js";
import { VoicemailSession } from "../src/voicemail/session.js";
import { dominant, rtp, tone } from "../test/support/voicemail/audio.js";
import { alawmulaw } from "../src/voicemail/deps.js";

const seconds = Number(process.argv[2] ?? 2);

async function bound(): Promise<dgram.Socket> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  return s;
}

const gw = await bound();
const caller = await bound();
const arrivals: { at: number; seq: number; ts: number; marker: boolean }[] = [];
caller.on("message", (m) => {
  const p = parseRtp(m);
  if (p) arrivals.push({ at: performance.now(), seq: p.sequence, ts: p.timestamp, marker: p.marker });
});
const greeting = defaultGreeting();
const beep = beepTone();
const expected = Math.ceil(greeting.length / 160) + Math.ceil(beep.length / 160);
const session = new VoicemailSession({
  socket: gw,
  remote: { address: "127.0.0.1", port: (caller.address() as { port: number }).port },
  payloadType: 0,
  telephoneEventPt: 101,
  greeting,
  beep,
  maxLengthS: 60,
  silenceS: 10,
  clock: systemClock,
  log: silentLogger(),
});
const result = session.run();
const gwPort = (gw.address() as { port: number }).port;

// Wait for the greeting and beep to arrive (bounded), then talk.
for (let i = 0; i < 200 && arrivals.length < expected; i++) await new Promise((r) => setTimeout(r, 20));
// The recording starts when the beep's last 20 ms are over; a caller speaks after hearing it.
await new Promise((r) => setTimeout(r, 100));
const audio = alawmulaw.mulaw.encode(tone(400, seconds * 8000));
const t0 = performance.now();
for (let i = 0; i * 160 < audio.length; i++) {
  caller.send(rtp({ seq: 1000 + i, ts: 5000 + i * 160, ssrc: 42 }, audio.subarray(i * 160, (i + 1) * 160)), gwPort, "127.0.0.1");
  const next = t0 + (i + 1) * 20;
  await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
}
await new Promise((r) => setTimeout(r, 100));
session.hangup();
const r = await result;
gw.close();
caller.close();

const gaps = arrivals.slice(1).map((a, i) => a.at - arrivals[i]!.at);
const sorted = gaps.slice().sort((a, b) => a - b);
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
const drift = arrivals.at(-1)!.at - arrivals[0]!.at - (arrivals.length - 1) * 20;
const contiguous = arrivals.every((a, i) => i === 0 || ((a.seq - arrivals[i - 1]!.seq) & 0xffff) === 1 && ((a.ts - arrivals[i - 1]!.ts) >>> 0) === 160);
console.log(
  JSON.stringify({
    greeting_packets: { expected, received: arrivals.length, markers: arrivals.filter((a) => a.marker).length, seq_ts_contiguous: contiguous },
    spacing_ms: { mean: +(gaps.reduce((a, b) => a + b, 0) / gaps.length).toFixed(3), p1: +pct(0.01).toFixed(2), p50: +pct(0.5).toFixed(2), p99: +pct(0.99).toFixed(2), max: +sorted.at(-1)!.toFixed(2) },
    end_drift_ms: +drift.toFixed(2),
    recording: { sent_s: seconds, recorded_s: r.durationS, reason: r.reason, dominant_hz: dominant(r.samples, [300, 400, 500, 1000]), concealed: r.stats.concealedSamples },
  }),
);
