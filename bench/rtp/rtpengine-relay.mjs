// rtpengine (Debian's `rtpengine-daemon`, userspace only: --table=-1) behind the same CLI and
// JSON line as `hikari-gw relay`, so bench/rtp.ts drives it like the other systems:
//   node rtpengine-relay.mjs --sessions N --listen ADDR --ports MIN-MAX --peer LOADADDR [--peer-port 10000]
// Starts rtpengine (it inherits our CPU affinity and scheduling policy), sets up N calls over
// its "ng" control protocol (bencoded dicts over UDP, each datagram "<cookie> <dict>"): an
// "offer" with the caller's SDP (LOADADDR:peer-port) and an "answer" with the callee's
// (LOADADDR:peer-port+2), reads the ports rtpengine put in each rewritten SDP, prints
// {"sessions":[{"a":PORT,"b":PORT},…],"pid":RTPENGINE_PID} and waits for SIGTERM.
// The caller sends to the port in the rewritten ANSWER, the callee to the one in the OFFER.
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    sessions: { type: "string" },
    listen: { type: "string", default: "127.0.0.1" },
    ports: { type: "string", default: "40000-49999" },
    peer: { type: "string", default: "127.0.0.1" },
    "peer-port": { type: "string", default: "10000" },
  },
});
const n = Number(values.sessions);
const [portMin, portMax] = values.ports.split("-");
const NG_PORT = 2223;

// --- bencode (BEP 3): strings are length-prefixed bytes, dict keys sorted ---
export function bencode(v) {
  if (typeof v === "number") return Buffer.from(`i${Math.trunc(v)}e`);
  if (typeof v === "string" || Buffer.isBuffer(v)) {
    const b = Buffer.isBuffer(v) ? v : Buffer.from(v);
    return Buffer.concat([Buffer.from(`${b.length}:`), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([Buffer.from("l"), ...v.map(bencode), Buffer.from("e")]);
  const keys = Object.keys(v).sort();
  return Buffer.concat([Buffer.from("d"), ...keys.flatMap((k) => [bencode(k), bencode(v[k])]), Buffer.from("e")]);
}

/** Decodes one value at buf[pos]; returns [value, next position]. Strings come back as utf8. */
export function bdecode(buf, pos = 0) {
  const c = buf[pos];
  if (c === 0x69 /* i */) {
    const end = buf.indexOf(0x65, pos);
    return [Number(buf.toString("latin1", pos + 1, end)), end + 1];
  }
  if (c === 0x6c /* l */ || c === 0x64 /* d */) {
    const out = c === 0x6c ? [] : {};
    pos++;
    for (let guard = 0; buf[pos] !== 0x65; guard++) {
      if (guard > 100_000 || pos >= buf.length) throw new Error("bencode: unterminated list/dict");
      const [k, p1] = bdecode(buf, pos);
      if (c === 0x6c) {
        out.push(k);
        pos = p1;
      } else {
        const [val, p2] = bdecode(buf, p1);
        out[k] = val;
        pos = p2;
      }
    }
    return [out, pos + 1];
  }
  const colon = buf.indexOf(0x3a, pos);
  if (colon < 0) throw new Error("bencode: bad string");
  const len = Number(buf.toString("latin1", pos, colon));
  return [buf.toString("utf8", colon + 1, colon + 1 + len), colon + 1 + len];
}

function sdp(addr, port) {
  return ["v=0", `o=- 1 1 IN IP4 ${addr}`, "s=-", `c=IN IP4 ${addr}`, "t=0 0", `m=audio ${port} RTP/AVP 0`, "a=rtpmap:0 PCMU/8000", "a=sendrecv", ""].join("\r\n");
}

function mediaPort(s) {
  const m = /^m=audio (\d+) /m.exec(s);
  if (!m) throw new Error(`no m=audio in rtpengine's SDP: ${s}`);
  return Number(m[1]);
}

const daemon = spawn(
  "rtpengine",
  [
    "--config-file=none",
    "--foreground",
    "--log-stderr",
    "--log-level=4",
    `--interface=${values.listen}`,
    `--listen-ng=127.0.0.1:${NG_PORT}`,
    `--port-min=${portMin}`,
    `--port-max=${portMax}`,
    "--table=-1",
    "--num-threads=1",
    "--timeout=3600",
  ],
  { stdio: ["ignore", "ignore", "inherit"] },
);
daemon.once("exit", (code, sig) => {
  console.error(`rtpengine exited (${code ?? sig})`);
  process.exit(1);
});

const ng = dgram.createSocket("udp4");
const waiting = new Map();
ng.on("message", (msg) => {
  const sp = msg.indexOf(0x20);
  const cookie = msg.toString("latin1", 0, sp);
  const w = waiting.get(cookie);
  if (!w) return;
  waiting.delete(cookie);
  clearTimeout(w.timer);
  w.resolve(bdecode(msg, sp + 1)[0]);
});
await new Promise((r) => ng.bind(0, "127.0.0.1", r));
let seq = 0;
function command(dict, timeoutMs = 1000) {
  const cookie = `c${++seq}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(cookie);
      reject(new Error(`ng ${dict.command}: no reply in ${timeoutMs} ms`));
    }, timeoutMs);
    waiting.set(cookie, { resolve, timer });
    ng.send(Buffer.concat([Buffer.from(cookie + " "), bencode(dict)]), NG_PORT, "127.0.0.1");
  });
}

// rtpengine needs a moment to open its control socket: ping, bounded.
for (let i = 0; ; i++) {
  const pong = await command({ command: "ping" }, 200).catch(() => null);
  if (pong?.result === "pong") break;
  if (i >= 50) throw new Error("rtpengine did not answer ping in 10 s");
}

const peerPort = Number(values["peer-port"]);
const sessions = [];
for (let i = 0; i < n; i++) {
  const callId = `bench-${i}`;
  const offer = await command({ command: "offer", "call-id": callId, "from-tag": `a${i}`, sdp: sdp(values.peer, peerPort) });
  if (offer.result !== "ok") throw new Error(`offer: ${JSON.stringify(offer)}`);
  const answer = await command({ command: "answer", "call-id": callId, "from-tag": `a${i}`, "to-tag": `b${i}`, sdp: sdp(values.peer, peerPort + 2) });
  if (answer.result !== "ok") throw new Error(`answer: ${JSON.stringify(answer)}`);
  sessions.push({ a: mediaPort(answer.sdp), b: mediaPort(offer.sdp) });
}
process.stdout.write(JSON.stringify({ sessions, pid: daemon.pid }) + "\n");

process.on("SIGTERM", () => {
  daemon.removeAllListeners("exit");
  daemon.once("exit", () => process.exit(0));
  daemon.kill("SIGTERM");
  setTimeout(() => {
    daemon.kill("SIGKILL");
    process.exit(0);
  }, 3000).unref();
});
