/**
 * CPU per datagram of what the LAN SIP socket does besides parsing: the `lan.allow` check on
 * every datagram received, and a send through UdpTransport to a loopback peer (dgram, the
 * destination lookup, the syscall). CPU time (user + system) of this process, so a busy
 * machine's other load matters less than in wall-clock figures; run it on two builds
 * (e.g. main in a second worktree) in the same session to compare.
 *
 *   taskset -c 0 npx vite-node bench/sip-datagram.ts [N]
 */
import dgram from "node:dgram";
import { AllowList } from "../src/net/allow-list.js";
import { silentLogger } from "../src/log.js";
import { UdpTransport } from "../src/sip/transport-udp.js";

const N = Number(process.argv[2] ?? 200_000);

function cpuUs(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return c.user + c.system;
}

// lan.allow as the default config builds it, asked about a handful of phones (a home).
const allow = new AllowList(["127.0.0.0/8", "::1/128", "192.168.1.0/24", "10.8.0.0/24"]);
const sources = ["10.8.0.2", "10.8.0.3", "192.168.1.20", "127.0.0.1", "198.18.0.5"];
let yes = 0;
for (let i = 0; i < 10_000; i++) if (allow.allows(sources[i % sources.length]!)) yes++;
const allowUs = cpuUs(() => {
  for (let i = 0; i < N; i++) if (allow.allows(sources[i % sources.length]!)) yes++;
});
console.log(JSON.stringify({ case: "lan.allow check", ns_per_datagram: Math.round((allowUs * 1000) / N), allowed: yes }));

// Sends: batches of 50 datagrams, each followed by event-loop turns until the peer has read
// them (bounded), so the sends (deferred or not) and the reads all happen inside the span
// and the peer's receive buffer never overflows.
const peer = dgram.createSocket("udp4");
let got = 0;
peer.on("message", () => void got++);
await new Promise<void>((r) => peer.bind(0, "127.0.0.1", () => r()));
const to = { address: "127.0.0.1", port: peer.address().port };
const t = await UdpTransport.bind({ address: "127.0.0.1", port: 0, log: silentLogger() });
const msg = Buffer.alloc(600, 0x41); // a typical SIP response's size
const sends = Math.min(N, 100_000);
const c0 = process.cpuUsage();
for (let i = 0; i < sends; i += 50) {
  for (let j = 0; j < 50; j++) t.sendRaw(msg, to);
  for (let turns = 0; got < i + 50 && turns < 1000; turns++) await new Promise((r) => setImmediate(r));
}
const c = process.cpuUsage(c0);
// Both ends are this process: the figure includes the peer's reads (the same for every build).
console.log(JSON.stringify({ case: "UdpTransport.sendRaw + loopback read", us_per_datagram: +((c.user + c.system) / sends).toFixed(2), sent: sends, received_by_peer: got }));
await t.close();
peer.close();
