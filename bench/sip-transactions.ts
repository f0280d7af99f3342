/**
 * Transactions per second of REGISTER → 200 through two TransactionLayers on the
 * in-memory network (parse + serialize + matching + timers, no sockets), and the cost
 * of keeping many transactions alive: all of them stay until Timer J/K (the live set
 * grows as rate × 32 s, what makes Yate slow). Every live transaction's timers sit on
 * the shared wheel: the Node timer count stays at one per layer.
 *
 *   npx vite-node bench/sip-transactions.ts [N]
 */
import { systemClock } from "../src/clock.js";
import { silentLogger } from "../src/log.js";
import { createResponse, parseMessage } from "../src/sip/message/index.js";
import type { SipRequest } from "../src/sip/message/types.js";
import { createMemoryNetwork } from "../src/sip/transport.js";
import { TransactionLayer } from "../src/sip/transaction/layer.js";

const N = Number(process.argv[2] ?? 50_000);
const UA = { address: "198.18.0.2", port: 5060 };
const GW = { address: "198.18.0.1", port: 5060 };

function register(i: number): SipRequest {
  const text =
    `REGISTER sip:198.18.0.1 SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:801@198.18.0.1>;tag=t${i}\r\n` +
    `To: <sip:801@198.18.0.1>\r\nCall-ID: c${i}@198.18.0.2\r\nCSeq: 1 REGISTER\r\nContact: <sip:801@198.18.0.2:5060>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n`;
  return parseMessage(Buffer.from(text)) as SipRequest;
}

async function run(granularityMs: number): Promise<{ perSecond: number; liveClient: number; liveServer: number; wheelTimers: number; heapMiB: number }> {
  const net = createMemoryNetwork({ record: false });
  const ua = new TransactionLayer({ transport: net.transport(UA), log: silentLogger(), clock: systemClock, timerGranularityMs: granularityMs });
  const gw = new TransactionLayer({ transport: net.transport(GW), log: silentLogger(), clock: systemClock, timerGranularityMs: granularityMs });
  gw.onRequest((req, tx) => tx!.respond(createResponse(req, 200, "OK", { toTag: "gw" })));
  let done = 0;
  const user = { onResponse: () => void done++, onTimeout: () => {}, onTransportError: () => {} };
  const t0 = process.hrtime.bigint();
  const batch = 500;
  for (let i = 0; i < N; i += batch) {
    for (let j = i; j < Math.min(N, i + batch); j++) ua.sendRequest(register(j), GW, user);
    await net.flush();
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const s1 = ua.stats();
  const s2 = gw.stats();
  const heapMiB = Math.round(process.memoryUsage().heapUsed / 2 ** 20);
  ua.close();
  gw.close();
  if (done !== N) throw new Error(`only ${done}/${N} answered`);
  return { perSecond: Math.round(N / secs), liveClient: s1.clients, liveServer: s2.servers, wheelTimers: s1.timers + s2.timers, heapMiB };
}

await run(10); // warm-up
const res = await run(10);
console.log(JSON.stringify({ transactions: N, ...res }));
