// A tiny raw SIP-over-UDP client for the emulator's self-test: it plays a gateway, well-behaved
// or not, by sending exactly the bytes it is given. Plain JS, run inside a namespace.
// argv[2]: JSON {bind, port, to: "ip:port", messages: [text, ...], waitMs} or, for RTP,
//          {bind, port, to, rtp: {count}} (see below)
// Each message is sent in turn (its "\n" become CRLF, Content-Length is filled in when it reads
// "l: auto"), and the probe waits for that transaction's final response before the next. For an
// INVITE answered with a non-2xx final it sends the ACK of RFC 3261 §17.1.1.3. Prints one JSON
// line per datagram received: {status, first, text}; exits 0 when every message had a final.
import dgram from "node:dgram";

const cfg = JSON.parse(process.argv[2]);
const [toHost, toPort] = cfg.to.split(":");
const waitMs = cfg.waitMs ?? 3000;
const sock = dgram.createSocket("udp4");
const deadline = setTimeout(() => {
  process.stderr.write("timeout waiting for a final response\n");
  sock.close();
  process.exit(3);
}, waitMs * (cfg.messages?.length ?? 1) + 500);

function crlf(text) {
  const [head, ...rest] = text.replace(/\r?\n/g, "\r\n").split("\r\n\r\n");
  const body = rest.join("\r\n\r\n");
  return `${head.replace(/^l: auto$/m, `l: ${Buffer.byteLength(body)}`)}\r\n\r\n${body}`;
}

function header(text, re) {
  return text.split("\r\n").find((l) => re.test(l));
}

let idx = 0;
let current = null;
function next() {
  if (idx >= cfg.messages.length) {
    clearTimeout(deadline);
    // Stay a moment for retransmissions of finals, then leave.
    setTimeout(() => { sock.close(); process.exit(0); }, 200);
    return;
  }
  current = crlf(cfg.messages[idx++]);
  sock.send(Buffer.from(current), Number(toPort), toHost);
}

sock.on("message", (buf) => {
  const text = buf.toString("utf8");
  const first = text.split("\r\n", 1)[0];
  const m = /^SIP\/2\.0 (\d{3})/.exec(first);
  process.stdout.write(JSON.stringify({ status: m ? Number(m[1]) : null, first, text }) + "\n");
  if (!m || !current) return;
  const status = Number(m[1]);
  if (status < 200) return;
  if (/^INVITE /.test(current) && status >= 300) {
    const ruri = current.split("\r\n", 1)[0].split(" ")[1];
    const lines = [
      `ACK ${ruri} SIP/2.0`,
      header(current, /^(Via|v)\s*:/i),
      header(current, /^(From|f)\s*:/i),
      header(text, /^(To|t)\s*:/i),
      header(current, /^(Call-ID|i)\s*:/i),
      `CSeq: ${/^(?:CSeq)\s*:\s*(\d+)/im.exec(current)?.[1] ?? 1} ACK`,
      "Max-Forwards: 70",
      "l: 0",
      "",
      "",
    ];
    sock.send(Buffer.from(lines.join("\r\n")), Number(toPort), toHost);
  }
  current = null;
  next();
});

if (cfg.rtp) {
  // RTP mode: `count` 172-byte PCMU packets (RFC 3550 header, PT 0) 20 ms apart; counts echoes.
  let sent = 0, echoed = 0;
  sock.removeAllListeners("message");
  sock.on("message", () => echoed++);
  sock.bind(cfg.port, cfg.bind, () => {
    const tick = setInterval(() => {
      if (sent >= cfg.rtp.count) {
        clearInterval(tick);
        setTimeout(() => {
          clearTimeout(deadline);
          process.stdout.write(JSON.stringify({ rtpSent: sent, rtpEchoed: echoed }) + "\n");
          sock.close();
        }, 300);
        return;
      }
      const pkt = Buffer.alloc(172, 0xff);
      pkt[0] = 0x80; pkt[1] = 0; pkt.writeUInt16BE(sent, 2); pkt.writeUInt32BE(sent * 160, 4); pkt.writeUInt32BE(0x4e474e31, 8);
      sock.send(pkt, Number(toPort), toHost);
      sent++;
    }, 20);
  });
} else {
  sock.bind(cfg.port, cfg.bind, () => next());
}
