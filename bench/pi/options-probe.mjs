// bench:pi's start-up probe, run inside a phone's namespace with `ip netns exec … node`:
// prints {"ready":true} once its socket is bound, then sends an OPTIONS (RFC 3261 §11) to
// HOST:PORT every 20 ms (a new transaction each time) until anything answers, prints
// {"answered_at": <epoch ms>, "status": N} and exits; {"answered_at": null} after TIMEOUT_MS.
//   node options-probe.mjs LOCAL_ADDR HOST PORT TIMEOUT_MS
import dgram from "node:dgram";

const [local, host, port, timeoutMs] = process.argv.slice(2);
const sock = dgram.createSocket("udp4");
let n = 0;
let timer;
const done = (line) => {
  clearInterval(timer);
  process.stdout.write(JSON.stringify(line) + "\n");
  sock.close();
};
sock.on("message", (msg) => {
  const m = /^SIP\/2\.0 (\d{3})/.exec(msg.toString("latin1"));
  if (m) done({ answered_at: Date.now(), status: Number(m[1]), sent: n });
});
sock.on("error", () => undefined); // ICMP port unreachable before the gateway binds: keep trying
sock.bind(0, local, () => {
  const me = sock.address();
  process.stdout.write(JSON.stringify({ ready: true }) + "\n");
  const send = () => {
    n++;
    const msg =
      `OPTIONS sip:${host}:${port} SIP/2.0\r\nVia: SIP/2.0/UDP ${me.address}:${me.port};branch=z9hG4bKpiprobe${n}\r\nMax-Forwards: 70\r\n` +
      `From: <sip:probe@${me.address}>;tag=pi${n}\r\nTo: <sip:${host}>\r\nCall-ID: piprobe${n}@${me.address}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
    sock.send(msg, Number(port), host);
  };
  timer = setInterval(send, 20);
  setTimeout(() => done({ answered_at: null, sent: n }), Number(timeoutMs)).unref();
});
