/**
 * Micro-benchmark of the SIP message layer on one core: a Linphone REGISTER with digest
 * credentials and a MicroSIP INVITE with SDP. Prints one JSON line per case, with a
 * same-run baseline (decode the datagram to a string and split it into lines: the least
 * any text parser pays) so figures compare across noisy machines.
 *
 *   taskset -c 0 npx vite-node bench/sip-parse.ts [seconds-per-case]
 */
import {
  callId,
  contacts,
  createResponse,
  cseq,
  fromAddr,
  getHeader,
  parseAuthParams,
  parseMessage,
  serializeMessage,
  toAddr,
  topVia,
  type SipRequest,
} from "../src/sip/message/index.js";
import { LINPHONE_REGISTER, MICROSIP_INVITE } from "../test/support/sip/messages.js";

const SECONDS = Number(process.argv[2] ?? 2);

function rate(fn: () => unknown): number {
  // Warm up so the JIT has settled, then count whole batches within the time box.
  for (let i = 0; i < 20_000; i++) fn();
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  let t0 = performance.now();
  const start = t0;
  while (t0 < end) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    t0 = performance.now();
  }
  return Math.round(n / ((t0 - start) / 1000));
}

let sink = 0;
const cases: Record<string, () => unknown> = {
  "baseline: toString + split lines (REGISTER)": () => (sink += LINPHONE_REGISTER.toString("utf8").split("\r\n").length),
  "parse REGISTER": () => parseMessage(LINPHONE_REGISTER),
  "parse + serialize REGISTER": () => serializeMessage(parseMessage(LINPHONE_REGISTER)),
  // What a registrar does per REGISTER besides the digest hash: parse, read the headers it
  // needs, build and serialise the answer.
  "registrar path (parse, 7 accessors, auth params, 200, serialize)": () => {
    const m = parseMessage(LINPHONE_REGISTER) as SipRequest;
    topVia(m);
    callId(m);
    cseq(m);
    fromAddr(m);
    toAddr(m);
    contacts(m);
    parseAuthParams(getHeader(m, "authorization")!);
    return serializeMessage(createResponse(m, 200, undefined, { toTag: "abc" }));
  },
  "parse INVITE with SDP": () => parseMessage(MICROSIP_INVITE),
  "parse + serialize INVITE with SDP": () => serializeMessage(parseMessage(MICROSIP_INVITE)),
};

for (const [name, fn] of Object.entries(cases)) {
  const perSecond = rate(fn);
  console.log(JSON.stringify({ case: name, per_second: perSecond, us_each: Number((1e6 / perSecond).toFixed(2)) }));
}
if (sink < 0) console.log(sink);
