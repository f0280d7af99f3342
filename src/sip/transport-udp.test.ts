import { afterEach, describe, expect, it } from "vitest";
import dgram from "node:dgram";
import { pino } from "pino";
import { silentLogger } from "../log.js";
import type { Endpoint, SipMessage, SipRequest } from "./message/types.js";
import { createResponse } from "./message/index.js";
import { UdpTransport, isKeepAlive } from "./transport-udp.js";
import { TransactionLayer } from "./transaction/layer.js";
import { outgoingRequest, RecordingUser } from "../../test/support/sip/transaction-harness.js";

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function udp(): Promise<UdpTransport> {
  const t = await UdpTransport.bind({ address: "127.0.0.1", port: 0, log: silentLogger() });
  open.push(t);
  return t;
}

/**
 * Wait until cond() holds, giving the event loop real I/O turns (setImmediate, never a sleep):
 * loopback datagrams are there on the next poll. Bounded in turns and in time.
 */
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  for (let turns = 0; !cond(); turns++) {
    if (turns >= 100_000 || Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setImmediate(r));
  }
}

function rawSocket(): Promise<{ s: dgram.Socket; got: Buffer[]; ep: Endpoint }> {
  const s = dgram.createSocket("udp4");
  const got: Buffer[] = [];
  s.on("message", (b) => got.push(b));
  open.push({ close: () => new Promise<void>((r) => s.close(() => r())) });
  return new Promise((resolve) => s.bind(0, "127.0.0.1", () => resolve({ s, got, ep: { address: "127.0.0.1", port: s.address().port } })));
}

const OPTIONS = (via: string, extra = "") =>
  `OPTIONS sip:801@127.0.0.1 SIP/2.0\r\nVia: ${via}\r\nMax-Forwards: 70\r\nFrom: <sip:802@127.0.0.1>;tag=a\r\nTo: <sip:801@127.0.0.1>\r\nCall-ID: u1\r\nCSeq: 1 OPTIONS\r\n${extra}Content-Length: 0\r\n\r\n`;

describe("UdpTransport on 127.0.0.1", () => {
  it("two transports exchange messages; requests get received/rport stamped", async () => {
    const a = await udp();
    const b = await udp();
    const got: Array<{ m: SipMessage; from: Endpoint }> = [];
    b.onMessage((m, from) => got.push({ m, from }));
    const raw = await rawSocket();
    raw.s.send(OPTIONS("SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bKx;rport"), b.local.port, "127.0.0.1");
    await until(() => got.length === 1);
    const via = (got[0]!.m as SipRequest).headers.find((h) => h.name === "via")!.value;
    expect(via).toBe(`SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bKx;rport=${raw.ep.port};received=127.0.0.1`);
    a.send(createResponse(got[0]!.m as SipRequest, 200, "OK"), b.local);
    await until(() => got.length === 2);
    expect(got[1]!.m.kind).toBe("response");
    expect(got[1]!.from).toEqual(a.local);
  });

  it("answers a CRLFCRLF ping with CRLF and drops other keep-alives", async () => {
    const b = await udp();
    const seen: SipMessage[] = [];
    b.onMessage((m) => seen.push(m));
    const raw = await rawSocket();
    raw.s.send(Buffer.from("\r\n\r\n"), b.local.port, "127.0.0.1");
    raw.s.send(Buffer.from("\r\n"), b.local.port, "127.0.0.1");
    await until(() => raw.got.length === 1);
    expect(raw.got[0]!.toString()).toBe("\r\n");
    expect(seen).toHaveLength(0);
    expect(isKeepAlive(Buffer.from("\0\0\0\0"))).toBe(true);
    expect(isKeepAlive(Buffer.from("OPTIONS"))).toBe(false);
  });

  it("drops malformed datagrams without crashing, answers a readable bad request statelessly", async () => {
    const b = await udp();
    const seen: SipMessage[] = [];
    b.onMessage((m) => seen.push(m));
    const raw = await rawSocket();
    for (let i = 0; i < 50; i++) raw.s.send(Buffer.from(`garbage ${i} \u0001\u0002`), b.local.port, "127.0.0.1");
    // Content-Length larger than the body: the parser rejects with 400 and the headers.
    raw.s.send(OPTIONS("SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbad").replace("Content-Length: 0", "Content-Length: 999"), b.local.port, "127.0.0.1");
    await until(() => raw.got.length === 1);
    expect(raw.got[0]!.toString()).toMatch(/^SIP\/2\.0 400 /);
    expect(raw.got[0]!.toString()).toMatch(/CSeq: 1 OPTIONS/);
    // Still alive and parsing.
    raw.s.send(OPTIONS("SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKok"), b.local.port, "127.0.0.1");
    await until(() => seen.length === 1);
  });

  it("a request whose Via names port 0, 65536 or no number leaves no transaction behind and logs no stack trace (issue 13, item 2)", async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const log = pino({ level: "debug" }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const b = await UdpTransport.bind({ address: "127.0.0.1", port: 0, log });
    open.push(b);
    // The trunk's layer: responses go where the Via says (§18.2.2), not to the source.
    const layer = new TransactionLayer({ transport: b, log, respondToSource: false });
    open.push({ close: () => layer.close() });
    let delivered = 0;
    layer.onRequest((req, tx) => {
      delivered++;
      tx!.respond(createResponse(req, 403, "Forbidden"));
    });
    const raw = await rawSocket();
    const vias = ["SIP/2.0/UDP 127.0.0.1:0;branch=z9hG4bKp0", "SIP/2.0/UDP 127.0.0.1:65536;branch=z9hG4bKp1", "SIP/2.0/UDP 127.0.0.1:x;branch=z9hG4bKp2", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKp3;rport=0", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKp4;received=evil.example"];
    for (const [i, via] of vias.entries()) {
      raw.s.send(OPTIONS(via).replace("Call-ID: u1", `Call-ID: via-${i}`), b.local.port, "127.0.0.1");
      raw.s.send(OPTIONS(via).replace("OPTIONS sip", "INVITE sip").replace("1 OPTIONS", "1 INVITE").replace("Call-ID: u1", `Call-ID: via-inv-${i}`), b.local.port, "127.0.0.1");
    }
    // A follow-up with a good Via: once it is handled, every earlier datagram was too.
    raw.s.send(OPTIONS("SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKgood"), b.local.port, "127.0.0.1");
    await until(() => delivered >= 1);
    await new Promise((r) => setImmediate(r)); // the deferred send failures, if any, have run
    expect(delivered).toBe(1);
    expect(layer.stats().servers).toBe(1); // the good one, completed
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    expect(b.stats().no_via).toBe(vias.length * 2);
  });

  it("a send that throws synchronously (port 0) reaches onError later and never throws", async () => {
    const a = await udp();
    const errs: Error[] = [];
    expect(() => a.sendRaw(Buffer.from("x"), { address: "127.0.0.1", port: 0 }, (e) => errs.push(e))).not.toThrow();
    expect(errs).toHaveLength(0); // deferred: the caller's state machine is not re-entered
    await until(() => errs.length === 1);
    expect(a.stats().send_failed).toBe(1);
  });

  it("a server transaction whose response cannot be sent ends as a transport error", async () => {
    const b = await udp();
    const layer = new TransactionLayer({ transport: b, log: silentLogger() });
    open.push({ close: () => layer.close() });
    const errors: Error[] = [];
    layer.onRequest((req, tx) => {
      tx!.onTransportError = (e) => errors.push(e);
      // A response destination no send can reach: what a bad Via built in code would give.
      Object.defineProperty(tx, "responseDestination", { value: { address: "127.0.0.1", port: 0 } satisfies Endpoint });
      tx!.respond(createResponse(req, 200, "OK"));
    });
    const raw = await rawSocket();
    raw.s.send(OPTIONS("SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKsendfail"), b.local.port, "127.0.0.1");
    await until(() => errors.length === 1);
    expect(layer.stats().servers).toBe(0);
  });

  it("drops datagrams the accept filter refuses, silently, and counts them", async () => {
    const b = await UdpTransport.bind({ address: "127.0.0.1", port: 0, log: silentLogger(), accept: (from) => from.port === 1 });
    open.push(b);
    const seen: SipMessage[] = [];
    b.onMessage((m) => seen.push(m));
    const raw = await rawSocket();
    raw.s.send(OPTIONS("SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKna"), b.local.port, "127.0.0.1");
    await until(() => b.stats().not_allowed === 1);
    await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(0);
    expect(raw.got).toHaveLength(0);
  });

  it("refuses to send more than 65000 bytes", async () => {
    const a = await udp();
    const errs: Error[] = [];
    a.sendRaw(Buffer.alloc(65_001, 0x41), { address: "127.0.0.1", port: 9 }, (e) => errs.push(e));
    expect(errs).toHaveLength(1);
  });

  it("two transaction layers over real UDP: REGISTER → 200", async () => {
    const a = await udp();
    const b = await udp();
    const ua = new TransactionLayer({ transport: a, log: silentLogger() });
    const gw = new TransactionLayer({ transport: b, log: silentLogger() });
    open.push({ close: () => (ua.close(), gw.close()) });
    gw.onRequest((req, tx) => tx!.respond(createResponse(req, 200, "OK", { toTag: "gw" })));
    const user = new RecordingUser();
    const tx = ua.sendRequest(outgoingRequest("REGISTER"), b.local, user);
    await until(() => user.responses.length === 1);
    expect(user.responses).toEqual([200]);
    expect(tx.state).toBe("completed");
  });

  it("log.sip_messages masks credentials, bounds each line and the lines a second; malformed-datagram lines stay small", async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "info" }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const t = await UdpTransport.bind({ address: "127.0.0.1", port: 0, log, logMessages: true });
    open.push(t);
    const raw = await rawSocket();
    const auth = `Authorization: Digest username="801", realm="hikari-gw", nonce="n0nce", uri="sip:801@127.0.0.1", response="0123456789abcdef0123456789abcdef", cnonce="c0nce", qop=auth, nc=00000001\r\n`;
    raw.s.send(OPTIONS("SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bKm;rport", auth), t.local.port, "127.0.0.1");
    await until(() => lines.some((l) => l.msg === "sip message"));
    const logged = String(lines.find((l) => l.msg === "sip message")!.sip);
    expect(logged).toContain('username="801"');
    expect(logged).toContain('uri="sip:801@127.0.0.1"');
    expect(logged).not.toContain("0123456789abcdef0123456789abcdef");
    expect(logged).not.toContain("c0nce");
    expect(logged).not.toContain("n0nce");
    // A 20 KB header value, in a valid message and in a malformed one: no line copies it.
    lines.length = 0;
    const huge = "x".repeat(20_000);
    raw.s.send(OPTIONS("SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bKh;rport", `Subject: ${huge}\r\n`), t.local.port, "127.0.0.1");
    raw.s.send(`OPTIONS sip:801@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKb\r\n${huge}\r\n\r\n`, t.local.port, "127.0.0.1");
    await until(() => lines.some((l) => l.msg === "dropping malformed sip datagram")).catch((e) => {
      throw new Error(`${(e as Error).message}: ${lines.map((l) => String(l.msg)).join(" | ")}`);
    });
    await until(() => lines.filter((l) => l.msg === "sip message").length >= 2);
    for (const l of lines) expect(JSON.stringify(l).length).toBeLessThan(5000);
    // A flood: at most 100 message lines in a second, the rest counted as suppressed.
    lines.length = 0;
    for (let i = 0; i < 300; i++) t.sendRaw(Buffer.from(OPTIONS(`SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKf${i}`)), raw.ep);
    expect(lines.filter((l) => l.msg === "sip message").length).toBeLessThanOrEqual(100);
  });
});
