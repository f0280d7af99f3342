// Malformed-SIP flood generator, plain JS for `ip netns exec … node flood.mjs '<json>'`.
// Sends `count` datagrams, paced evenly over `seconds`, round-robin to `targets`, from one
// socket bound to `bind` (port 0 = any). Bounded in count and in time (stops at 2 × seconds
// whatever happens). The datagrams are the shapes that broke or could break a SIP stack:
// Via sent-by/rport ports 0, 65536, NaN, -1; duplicate auth parameters (a decoy username=);
// huge headers (up to ~60 KB datagrams); truncated messages; bare garbage; lying
// Content-Length; REGISTER/INVITE/OPTIONS/BYE/SUBSCRIBE with those (`methods` narrows the list:
// a well-formed INVITE from the line's own address is a call, and rings the phones by design).
// Prints one JSON line at the end:
// { sent, errors, ms, kinds }.
import dgram from "node:dgram";

const o = JSON.parse(process.argv[2]);
const count = o.count ?? 1000;
const seconds = o.seconds ?? 10;
const targets = o.targets;
let seed = (o.seed ?? 13) >>> 0;
const rnd = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (a) => a[Math.floor(rnd() * a.length)];
const id = () => Math.floor(rnd() * 1e12).toString(36);

function message(i, t) {
  const host = `${o.bind}`;
  const method = pick(o.methods ?? ["REGISTER", "INVITE", "OPTIONS", "BYE", "SUBSCRIBE"]);
  const ext = pick(["801", "802", "899", "0312345678", "x"]);
  const port = pick(["0", "65536", "NaN", "-1", "99999999999", "", "5060"]);
  const via = pick([
    `Via: SIP/2.0/UDP ${host}:${port};branch=z9hG4bK${id()}`,
    `Via: SIP/2.0/UDP ${host};rport=${port};branch=z9hG4bK${id()}`,
    `Via: SIP/2.0/UDP ${host}:5060;received=0.0.0.0;rport=0;branch=z9hG4bK${id()}`,
    `Via: SIP/2.0/UDP [::1]:${port};branch=z9hG4bK${id()}`,
  ]);
  const auth = pick([
    `Authorization: Digest username="x", username="${ext}", realm="hikari-gw", nonce="${id()}", uri="sip:${t.host}", response="${"0".repeat(32)}"`,
    `Authorization: Digest username="${ext}", realm="hikari-gw", realm="evil", nonce="${id()}", nonce="${id()}", uri="sip:${t.host}", response="${"a".repeat(32)}", qop=auth, qop=auth, nc=00000001, cnonce="x"`,
    `Proxy-Authorization: Digest username="${"9".repeat(20000)}", realm="hikari-gw", nonce="n", uri="sip:other@${t.host}", response="${"b".repeat(32)}"`,
    "",
  ]);
  const head = [
    `${method} sip:${ext}@${t.host}:${t.port} SIP/2.0`,
    via,
    "Max-Forwards: 70",
    `From: <sip:${ext}@${t.host}>;tag=${id()}`,
    `To: <sip:${ext}@${t.host}>`,
    `Call-ID: flood-${i}-${id()}`,
    `CSeq: ${Math.floor(rnd() * 1000)} ${method}`,
    `Contact: <sip:${ext}@${host}:${port}>`,
  ];
  if (auth) head.push(auth);
  const kind = Math.floor(rnd() * 7);
  switch (kind) {
    case 0: // huge header (a UDP datagram up to ~60 KB)
      head.push(`X-Pad: ${"A".repeat(1000 + Math.floor(rnd() * 59000))}`);
      break;
    case 1: // a header repeated many times
      for (let k = 0; k < 200; k++) head.push(`Via: SIP/2.0/UDP ${host}:${port};branch=z9hG4bK${k}`);
      break;
    case 2: // lying Content-Length
      head.push(`Content-Length: ${pick(["-1", "99999", "NaN", "18446744073709551616"])}`);
      return { kind: "content-length", text: head.join("\r\n") + "\r\n\r\nv=0\r\n" };
    case 3: { // truncated anywhere
      const full = head.join("\r\n") + "\r\nContent-Length: 0\r\n\r\n";
      return { kind: "truncated", text: full.slice(0, Math.floor(rnd() * full.length)) };
    }
    case 4: { // garbage bytes
      const b = Buffer.alloc(1 + Math.floor(rnd() * 1400));
      for (let k = 0; k < b.length; k++) b[k] = Math.floor(rnd() * 256);
      return { kind: "garbage", text: b };
    }
    default:
      break;
  }
  head.push("Content-Length: 0");
  return { kind: ["huge", "repeated", "", "", "", "via-port", "via-port"][kind], text: head.join("\r\n") + "\r\n\r\n" };
}

const sock = dgram.createSocket("udp4");
sock.on("error", () => undefined);
sock.on("message", () => undefined); // answers are read and dropped
await new Promise((r) => sock.bind(o.fromPort ?? 0, o.bind, r));
const started = Date.now();
const hardStop = started + seconds * 2000;
let sent = 0;
let errors = 0;
const kinds = {};
const perTick = Math.max(1, Math.ceil(count / (seconds * 100))); // 10 ms ticks
while (sent < count && Date.now() < hardStop) {
  const due = Math.min(count, Math.floor(((Date.now() - started) / (seconds * 1000)) * count) + perTick);
  while (sent < due) {
    const t = targets[sent % targets.length];
    const m = message(sent, t);
    kinds[m.kind] = (kinds[m.kind] ?? 0) + 1;
    sent++;
    sock.send(typeof m.text === "string" ? Buffer.from(m.text, "latin1") : m.text, t.port, t.host, (err) => {
      if (err) errors++;
    });
  }
  await new Promise((r) => setTimeout(r, 10));
}
await new Promise((r) => setTimeout(r, 200));
sock.close();
process.stdout.write(JSON.stringify({ sent, errors, ms: Date.now() - started, kinds }) + "\n");
