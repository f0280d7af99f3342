// A phone's media for one call, as plain JS run in the phone's namespace (`ip netns exec … node`):
// PCMU audio (PT 0, 20 ms) with RFC 4733 telephone-events (PT 101) for the given digits in the
// same RTP stream. SIPp 3.6's play_dtmf sends its events as PT 96 whatever the SDP says, so it
// cannot show that PT 101 crosses the gateway; this can.
// argv[2]: JSON {bind, port, to: "ip:port", digits: "123", leadMs, toneMs, gapMs, tailMs}
// Prints one JSON line at the end: {sent: {audio, events}, received: {"<pt>": count}}.
// Bounded: it exits after lead + digits × (tone + gap) + tail + 500 ms whatever happens.
import dgram from "node:dgram";

const cfg = JSON.parse(process.argv[2]);
const [toHost, toPort] = cfg.to.split(":");
const leadMs = cfg.leadMs ?? 400;
const toneMs = cfg.toneMs ?? 100;
const gapMs = cfg.gapMs ?? 100;
const tailMs = cfg.tailMs ?? 400;
// RFC 4733 §3.2: events 0-9 are the digits, 10 is *, 11 is #.
const EVENTS = { "*": 10, "#": 11 };
const digits = [...(cfg.digits ?? "123")].map((d) => EVENTS[d] ?? Number(d));

// The plan, one entry per 20 ms tick: an audio packet, or one packet of an event.
const plan = [];
const ticks = (ms) => Math.max(1, Math.round(ms / 20));
for (let i = 0; i < ticks(leadMs); i++) plan.push({ kind: "audio" });
for (const ev of digits) {
  const n = ticks(toneMs);
  // §2.5.1.2: the first packet carries the marker; duration grows by one packet time each.
  for (let i = 1; i <= n; i++) plan.push({ kind: "event", ev, duration: i * 160, first: i === 1, end: false, start: i === 1 });
  // §2.5.1.4: the end packet is sent three times with the same duration.
  for (let r = 0; r < 3; r++) plan.push({ kind: "event", ev, duration: n * 160, first: false, end: true, start: false });
  for (let i = 0; i < ticks(gapMs); i++) plan.push({ kind: "audio" });
}
for (let i = 0; i < ticks(tailMs); i++) plan.push({ kind: "audio" });

const sock = dgram.createSocket("udp4");
const received = {};
const sent = { audio: 0, events: 0 };
sock.on("message", (b) => {
  if (b.length < 12 || b[0] >> 6 !== 2) return;
  const pt = b[1] & 0x7f;
  received[pt] = (received[pt] ?? 0) + 1;
});

const hardStop = setTimeout(() => finish(3), plan.length * 20 + 1500);
function finish(code) {
  clearTimeout(hardStop);
  process.stdout.write(JSON.stringify({ sent, received }) + "\n");
  sock.close();
  process.exitCode = code;
}

sock.bind(cfg.port, cfg.bind, () => {
  const ssrc = 0x4847dead;
  let seq = 1000;
  let ts = 8000;
  let eventTs = ts;
  let step = 0;
  const silence = Buffer.alloc(160, 0xff); // µ-law silence (G.711)
  const tick = setInterval(() => {
    const p = plan[step++];
    if (!p) {
      clearInterval(tick);
      // Let the echo of the last packets come back, then report.
      setTimeout(() => finish(0), 300);
      return;
    }
    const head = Buffer.alloc(12);
    head[0] = 0x80;
    if (p.kind === "audio") {
      head[1] = 0;
      head.writeUInt16BE(seq++ & 0xffff, 2);
      head.writeUInt32BE(ts >>> 0, 4);
      head.writeUInt32BE(ssrc, 8);
      ts += 160;
      sock.send(Buffer.concat([head, silence]), Number(toPort), toHost);
      sent.audio++;
      return;
    }
    // §2.3.1: every packet of an event carries the timestamp of its start.
    if (p.start) eventTs = ts;
    head[1] = (p.first ? 0x80 : 0) | 101;
    head.writeUInt16BE(seq++ & 0xffff, 2);
    head.writeUInt32BE(eventTs >>> 0, 4);
    head.writeUInt32BE(ssrc, 8);
    const payload = Buffer.alloc(4);
    payload[0] = p.ev;
    payload[1] = (p.end ? 0x80 : 0) | 10; // E bit, volume -10 dBm0
    payload.writeUInt16BE(p.duration, 2);
    // The audio clock keeps running under the event (§2.5.1.1).
    ts += 160;
    sock.send(Buffer.concat([head, payload]), Number(toPort), toHost);
    sent.events++;
  }, 20);
});
