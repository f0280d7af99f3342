/**
 * Unit-test scaffolding for the transaction layer: a layer on a memory network and a
 * ManualClock, plus a raw peer that records what it receives and can inject datagrams.
 * Not used by production code.
 */
import { ManualClock } from "../../../src/clock.js";
import { silentLogger } from "../../../src/log.js";
import type { Endpoint, SipMessage, SipRequest, SipResponse } from "../../../src/sip/message/types.js";
import { parseMessage } from "../../../src/sip/message/index.js";
import { createMemoryNetwork, type MemoryNetwork, type MemoryTransport } from "../../../src/sip/transport.js";
import { TransactionLayer, type ClientTransaction, type ClientTransactionUser, type TransactionLayerOptions } from "../../../src/sip/transaction/layer.js";

export const GW: Endpoint = { address: "198.18.0.1", port: 5060 };
export const PHONE: Endpoint = { address: "198.18.0.2", port: 5062 };

export interface Harness {
  clock: ManualClock;
  net: MemoryNetwork;
  gw: MemoryTransport;
  phone: MemoryTransport;
  layer: TransactionLayer;
  /** What the phone received, in order. */
  got: SipMessage[];
  flush(): Promise<void>;
  /** Advance fake time and let the network deliver. */
  advance(ms: number): Promise<void>;
  /** The phone sends raw text to the gateway. */
  inject(text: string, from?: Endpoint): Promise<void>;
}

export function harness(opts: Partial<TransactionLayerOptions> = {}): Harness {
  const clock = new ManualClock(0);
  const net = createMemoryNetwork({ now: () => clock.now() });
  const gw = net.transport(GW);
  const phone = net.transport(PHONE);
  const layer = new TransactionLayer({ transport: gw, log: silentLogger(), clock, ...opts });
  const got: SipMessage[] = [];
  phone.onMessage((m) => got.push(m));
  return {
    clock,
    net,
    gw,
    phone,
    layer,
    got,
    flush: () => net.flush(),
    async advance(ms) {
      clock.advance(ms);
      await net.flush();
    },
    async inject(text, from = PHONE) {
      gw.inject(text, from);
      await net.flush();
    },
  };
}

/** Records what a client transaction tells its user. */
export class RecordingUser implements ClientTransactionUser {
  responses: number[] = [];
  timeouts = 0;
  errors: Error[] = [];
  terminated = 0;
  onResponse(res: SipResponse, _tx: ClientTransaction): void {
    this.responses.push(res.status);
  }
  onTimeout(): void {
    this.timeouts++;
  }
  onTransportError(_tx: ClientTransaction, err: Error): void {
    this.errors.push(err);
  }
  onTerminated(): void {
    this.terminated++;
  }
}

export interface RequestText {
  method: string;
  branch?: string;
  /** Whole Via value instead of the default. */
  via?: string;
  toTag?: string;
  cseq?: number;
  callId?: string;
  extra?: string[];
  uri?: string;
}

/** A request as the phone would send it. */
export function requestText(r: RequestText): string {
  const via = r.via ?? `SIP/2.0/UDP ${PHONE.address}:${PHONE.port};branch=${r.branch ?? "z9hG4bKphone1"};rport`;
  return [
    `${r.method} ${r.uri ?? "sip:801@198.18.0.1"} SIP/2.0`,
    `Via: ${via}`,
    "Max-Forwards: 70",
    `From: <sip:802@198.18.0.1>;tag=ph1`,
    `To: <sip:801@198.18.0.1>${r.toTag ? `;tag=${r.toTag}` : ""}`,
    `Call-ID: ${r.callId ?? "call-1@198.18.0.2"}`,
    `CSeq: ${r.cseq ?? 1} ${r.method === "ACK" || r.method === "CANCEL" ? r.method : r.method}`,
    ...(r.extra ?? []),
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
}

/** A request the gateway sends (no Via: the layer adds it). */
export function outgoingRequest(method: string, extra: string[] = []): SipRequest {
  const text = [
    `${method} sip:802@198.18.0.2:5062 SIP/2.0`,
    "Max-Forwards: 70",
    "Route: <sip:198.18.0.9;lr>",
    "From: <sip:801@198.18.0.1>;tag=gw1",
    "To: <sip:802@198.18.0.2>",
    "Call-ID: out-1@198.18.0.1",
    `CSeq: 7 ${method}`,
    ...extra,
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
  return parseMessage(Buffer.from(text)) as SipRequest;
}

/** A response from the phone to a request the gateway sent (copies its Via etc.). */
export function responseText(req: SipMessage, status: number, reason = "X", toTag = "ph9"): string {
  const h = (n: string) => req.headers.filter((x) => x.name === n).map((x) => x.value);
  const to = h("to")[0]!;
  return [
    `SIP/2.0 ${status} ${reason}`,
    ...h("via").map((v) => `Via: ${v}`),
    `From: ${h("from")[0]}`,
    `To: ${status > 100 && !/tag=/.test(to) ? `${to};tag=${toTag}` : to}`,
    `Call-ID: ${h("call-id")[0]}`,
    `CSeq: ${h("cseq")[0]}`,
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
}

/** Send times of what the gateway sent matching a predicate. */
export function sendTimes(hx: Harness, pred: (m: SipMessage) => boolean): number[] {
  return hx.gw.sent.filter((d) => pred(parseMessage(d.data))).map((d) => d.at);
}

/** Datagrams the gateway sent, parsed, optionally filtered by a predicate. */
export function sentByGw(hx: Harness, pred: (m: SipMessage) => boolean = () => true): SipMessage[] {
  return hx.gw.sent.map((d) => parseMessage(d.data)).filter(pred);
}

export function isRequest(method: string): (m: SipMessage) => boolean {
  return (m) => m.kind === "request" && m.method === method;
}

export function isStatus(status: number): (m: SipMessage) => boolean {
  return (m) => m.kind === "response" && m.status === status;
}
