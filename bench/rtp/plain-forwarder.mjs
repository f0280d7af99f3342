// The baseline of docs/testing.md "Benchmarks": a plain Node `dgram` forwarder. Per session two sockets;
// each latches the first source that sends to it; on 'message' the same Buffer goes out of
// the other socket to the other side's latched peer. Same CLI and JSON line as
// `hikari-gw relay`, so the bench drives both the same way.
import dgram from "node:dgram";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { sessions: { type: "string" }, listen: { type: "string", default: "127.0.0.1" }, ports: { type: "string", default: "50000-59999" } } });
const n = Number(values.sessions);
let port = Number(values.ports.split("-")[0]);
const bind = (p) => new Promise((res, rej) => { const s = dgram.createSocket("udp4"); s.once("error", rej); s.bind(p, values.listen, () => res(s)); });
const sessions = [];
for (let i = 0; i < n; i++) {
  const a = await bind(port), b = await bind(port + 2);
  const pa = { addr: "", port: 0 }, pb = { addr: "", port: 0 };
  const wire = (inSock, inPeer, outSock, outPeer) => inSock.on("message", (msg, r) => {
    if (inPeer.port === 0) { inPeer.addr = r.address; inPeer.port = r.port; }
    else if (r.port !== inPeer.port || r.address !== inPeer.addr) return;
    if (outPeer.port !== 0) outSock.send(msg, outPeer.port, outPeer.addr);
  });
  wire(a, pa, b, pb);
  wire(b, pb, a, pa);
  sessions.push({ a: port, b: port + 2 });
  port += 4;
}
process.stdout.write(JSON.stringify({ sessions }) + "\n");
process.on("SIGTERM", () => process.exit(0));
