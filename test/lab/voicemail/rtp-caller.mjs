// The caller's media in the voicemail lab, as plain JS run in the NGN's namespace (`ip netns
// exec … node`): it listens where the caller's SDP says, takes the answering machine's greeting
// and beep (every packet's arrival time, payload type, sequence, timestamp, marker), and once
// they stop (quietMs without a packet) sends a PCMU tone of toneHz for toneMs back to where they
// came from (symmetric RTP), 20 ms a packet, optionally losing lossPct % of the packets and
// swapping reorderPct % of neighbours (a seeded PRNG: the same run every time).
// argv[2]: JSON {bind, port, toneHz, toneMs, quietMs, lossPct, reorderPct, waitMs}
// Prints one JSON line at the end: {greeting: [[t_ms, pt, seq, ts, marker], …], sent, lost, swapped}.
// Bounded: it exits after waitMs + toneMs + 2 s whatever happens.
import dgram from "node:dgram";

const cfg = JSON.parse(process.argv[2]);
const quietMs = cfg.quietMs ?? 400;
let seed = 0x2545f491;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);

// G.711 µ-law encoder (ITU-T G.711, the usual bias-and-segment form).
function ulaw(sample) {
  const BIAS = 0x84;
  let s = Math.max(-32635, Math.min(32635, sample));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  s += BIAS;
  let exp = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exp > 0; mask >>= 1) exp--;
  const mant = (s >> (exp + 3)) & 0x0f;
  return ~(sign | (exp << 4) | mant) & 0xff;
}

const sock = dgram.createSocket("udp4");
const greeting = [];
const t0 = Date.now();
let peer;
let lastAt = 0;
let sending = false;
const result = { greeting, sent: 0, lost: 0, swapped: 0 };

const hardStop = setTimeout(() => finish(3), (cfg.waitMs ?? 20000) + cfg.toneMs + 2000);
function finish(code) {
  clearTimeout(hardStop);
  process.stdout.write(JSON.stringify(result) + "\n");
  sock.close();
  process.exitCode = code;
}

sock.on("message", (b, rinfo) => {
  if (b.length < 12 || b[0] >> 6 !== 2 || sending) return;
  peer ??= rinfo;
  lastAt = Date.now();
  greeting.push([lastAt - t0, b[1] & 0x7f, b.readUInt16BE(2), b.readUInt32BE(4), b[1] >> 7]);
});

// Once the greeting and beep stopped: the tone.
const watch = setInterval(() => {
  if (!peer || Date.now() - lastAt < quietMs) return;
  clearInterval(watch);
  sending = true;
  sendTone();
}, 20);

function sendTone() {
  const n = Math.round(cfg.toneMs / 20);
  const packets = [];
  for (let i = 0; i < n; i++) {
    const payload = Buffer.alloc(160);
    for (let k = 0; k < 160; k++) payload[k] = ulaw(Math.round(12000 * Math.sin((2 * Math.PI * cfg.toneHz * (i * 160 + k)) / 8000)));
    const head = Buffer.alloc(12);
    head[0] = 0x80;
    head[1] = (i === 0 ? 0x80 : 0) | 0;
    head.writeUInt16BE((4000 + i) & 0xffff, 2);
    head.writeUInt32BE((16000 + i * 160) >>> 0, 4);
    head.writeUInt32BE(0x766d6c62, 8);
    packets.push(Buffer.concat([head, payload]));
  }
  // Reorder: swap neighbours (never the first or last packet, so the length stays the tone's).
  for (let i = 1; i < n - 2; i++) {
    if (rand() * 100 < (cfg.reorderPct ?? 0)) {
      [packets[i], packets[i + 1]] = [packets[i + 1], packets[i]];
      result.swapped++;
      i++;
    }
  }
  let i = 0;
  const start = Date.now();
  const tick = () => {
    // Paced on an absolute schedule: 20 ms per packet.
    while (i < n && Date.now() - start >= i * 20) {
      const p = packets[i++];
      if (i > 1 && i < n && rand() * 100 < (cfg.lossPct ?? 0)) {
        result.lost++;
        continue;
      }
      sock.send(p, peer.port, peer.address);
      result.sent++;
    }
    if (i < n) setTimeout(tick, 5);
    else setTimeout(() => finish(0), 200);
  };
  tick();
}

sock.bind(cfg.port, cfg.bind);
