/**
 * The layer's bound on server transactions: past it a new request is answered statelessly
 * with 503 + Retry-After and stored nowhere; one log line a second however many come.
 */
import { describe, expect, it } from "vitest";
import pino from "pino";
import { ManualClock } from "../../clock.js";
import { createMemoryNetwork } from "../transport.js";
import { parseMessage, serializeMessage } from "../message/index.js";
import type { SipResponse } from "../message/types.js";
import { TransactionLayer } from "./layer.js";

const GW = { address: "198.18.0.1", port: 5060 };
const SCANNER = { address: "198.18.0.66", port: 5060 };

function options(i: number): string {
  return [
    `OPTIONS sip:gw@198.18.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 198.18.0.66:5060;branch=z9hG4bK-scan-${i}`,
    `Max-Forwards: 70`,
    `From: <sip:scan@198.18.0.66>;tag=s${i}`,
    `To: <sip:gw@198.18.0.1>`,
    `Call-ID: scan-${i}`,
    `CSeq: 1 OPTIONS`,
    `Content-Length: 0`,
    ``,
    ``,
  ].join("\r\n");
}

describe("transaction layer: bound on server transactions", () => {
  it("past limits.server_transactions a new request gets a stateless 503 with Retry-After, the table stays at the bound", async () => {
    const clock = new ManualClock(1_000_000);
    const net = createMemoryNetwork({ now: () => clock.now() });
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "warn" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    const layer = new TransactionLayer({ transport: net.transport(GW), log, clock, maxServerTransactions: 3, retryAfterS: 7 });
    layer.onRequest((req, tx) => tx?.respond({ kind: "response", version: "SIP/2.0", status: 200, reason: "OK", headers: req.headers.filter((h) => ["via", "from", "to", "call-id", "cseq"].includes(h.name)), body: Buffer.alloc(0) }));
    const scanner = net.transport(SCANNER);
    const got: SipResponse[] = [];
    scanner.onMessage((m) => m.kind === "response" && got.push(m));
    for (let i = 0; i < 10; i++) scanner.send(parseMessage(Buffer.from(options(i))), GW);
    await net.flush();
    expect(got.map((r) => r.status)).toEqual([200, 200, 200, 503, 503, 503, 503, 503, 503, 503]);
    const refusal = got[3]!;
    expect(refusal.headers.find((h) => h.name === "retry-after")?.value).toBe("7");
    expect(refusal.headers.find((h) => h.name === "call-id")?.value).toBe("scan-3");
    expect(layer.stats()).toMatchObject({ servers: 3, refusedOverload: 7 });
    // One rate-limited line for the seven refusals.
    expect(lines.filter((l) => String(l.msg).includes("too many server transactions"))).toHaveLength(1);
    // A retransmission of a stored request is still answered from its transaction, not refused.
    scanner.sendRaw(Buffer.from(options(0)), GW);
    await net.flush();
    expect(got.at(-1)!.status).toBe(200);
    // Once Timer J let the completed ones go, new requests are served again.
    clock.advance(40_000);
    await net.flush();
    expect(layer.stats().servers).toBe(0);
    scanner.sendRaw(Buffer.from(options(100)), GW);
    await net.flush();
    expect(got.at(-1)!.status).toBe(200);
    expect(serializeMessage(refusal).toString()).toMatch(/^SIP\/2\.0 503 Service Unavailable\r\n/);
    layer.close();
  });
});
