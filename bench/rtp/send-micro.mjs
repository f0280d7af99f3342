// Per-datagram CPU of dgram's socket.send(buf) vs FastSender (src/media/fast-send.ts) on a
// connected loopback socket whose peer never reads (the kernel drops once its buffer is full,
// so every send stays synchronous). Run after `npx tsc -p tsconfig.build.json`:
//   taskset -c 0 node bench/rtp/send-micro.mjs
import dgram from "node:dgram";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const { FastSender, enableFastSend } = await import(join(dirname(fileURLToPath(import.meta.url)), "../../dist/media/fast-send.js"));
const bind = () => new Promise((r) => { const s = dgram.createSocket("udp4"); s.bind(0, "127.0.0.1", () => r(s)); });
const sink = await bind();
const tx = await bind();
await new Promise((r) => tx.connect(sink.address().port, "127.0.0.1", r));
const buf = Buffer.alloc(172);
const N = 300_000;
enableFastSend();
const fast = FastSender.for(tx);
if (!fast) throw new Error("fast send unavailable on this Node");
const run = (label, fn) => {
  const t = process.cpuUsage();
  for (let i = 0; i < N; i++) fn();
  const d = process.cpuUsage(t);
  console.log(`${label.padEnd(12)} µs/datagram: total ${((d.user + d.system) / N).toFixed(3)}, user ${(d.user / N).toFixed(3)}, system ${(d.system / N).toFixed(3)}`);
};
for (let round = 0; round < 3; round++) {
  run("socket.send", () => tx.send(buf));
  run("FastSender", () => fast.send(buf));
}
sink.close();
tx.close();
