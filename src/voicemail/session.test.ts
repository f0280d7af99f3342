import dgram from "node:dgram";
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { dominant, dtmfPayload, rtp, tone } from "../../test/support/voicemail/audio.js";
import { parseRtp } from "./rtp.js";
import { VoicemailSession } from "./session.js";
import type { VoicemailSessionResult, VoicemailSocket } from "./types.js";
import { alawmulaw } from "./deps.js";

class FakeSocket extends EventEmitter implements VoicemailSocket {
  readonly sent: { at: number; buf: Buffer; port: number; address: string }[] = [];
  constructor(private readonly clock: ManualClock) {
    super();
  }
  send(buf: Buffer, port: number, address: string): void {
    this.sent.push({ at: this.clock.now(), buf, port, address });
  }
  deliver(buf: Buffer, address: string, port: number): void {
    this.emit("message", buf, { address, port, family: "IPv4", size: buf.length });
  }
}

const CALLER = { address: "198.18.0.2", port: 30000 };

function rig(over: { silenceS?: number; maxLengthS?: number; payloadType?: 0 | 8 } = {}) {
  const clock = new ManualClock(10_000);
  const socket = new FakeSocket(clock);
  const session = new VoicemailSession({
    socket,
    remote: CALLER,
    payloadType: over.payloadType ?? 0,
    telephoneEventPt: 101,
    greeting: tone(600, 160 * 3),
    beep: tone(1000, 160 * 2),
    maxLengthS: over.maxLengthS ?? 60,
    silenceS: over.silenceS,
    clock,
    log: silentLogger(),
  });
  let result: VoicemailSessionResult | undefined;
  const running = session.run().then((r) => (result = r));
  return { clock, socket, session, running, get result() { return result; } };
}

/** The caller's audio: 20 ms PCMU packets of a tone, from seq/ts 1. */
function callerPackets(n: number, hz = 400, first = 1): Buffer[] {
  const s = tone(hz, n * 160);
  return Array.from({ length: n }, (_, i) => rtp({ seq: first + i, ts: (first + i) * 160, ssrc: 77 }, alawmulaw.mulaw.encode(s.subarray(i * 160, (i + 1) * 160))));
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** Runs the clock through the greeting and beep (5 packets), letting the play promises chain. */
async function throughGreeting(clock: ManualClock): Promise<void> {
  for (let i = 0; i < 10; i++) {
    clock.advance(10);
    await settle();
  }
}

describe("voicemail session", () => {
  it("greeting, then beep, as one paced PCMU stream to the caller's SDP address; then it records until hangup", async () => {
    const r = rig();
    await throughGreeting(r.clock);
    const sent = r.socket.sent;
    expect(sent).toHaveLength(5);
    expect(sent.map((s) => s.at - 10_000)).toEqual([0, 20, 40, 60, 80]);
    expect(sent.every((s) => s.address === CALLER.address && s.port === CALLER.port)).toBe(true);
    const heard = alawmulaw.mulaw.decode(Buffer.concat(sent.map((s) => parseRtp(s.buf)!.payload)));
    expect(dominant(heard.subarray(0, 480), [600, 1000])).toBe(600);
    expect(dominant(heard.subarray(480), [600, 1000])).toBe(1000);
    expect(sent.map((s) => parseRtp(s.buf)!.payloadType)).toEqual([0, 0, 0, 0, 0]);

    for (const p of callerPackets(50)) {
      r.socket.deliver(p, CALLER.address, CALLER.port);
      r.clock.advance(20);
    }
    expect(r.result).toBeUndefined();
    r.session.hangup();
    await r.running;
    expect(r.result!.reason).toBe("hangup");
    expect(r.result!.durationS).toBe(1);
    expect(dominant(r.result!.samples, [400, 600, 1000])).toBe(400);
    expect(r.result!.stats).toMatchObject({ accepted: 50, packetsSent: 5, droppedSource: 0 });
    expect(r.socket.listenerCount("message")).toBe(0);
    expect(r.clock.pending()).toBe(0);
  });

  it("what the caller sends during the greeting is not part of the message", async () => {
    const r = rig();
    const early = callerPackets(3, 900);
    r.socket.deliver(early[0]!, CALLER.address, CALLER.port);
    await throughGreeting(r.clock);
    for (const p of callerPackets(10, 400, 10)) {
      r.socket.deliver(p, CALLER.address, CALLER.port);
      r.clock.advance(20);
    }
    r.session.hangup();
    const res = await r.running;
    expect(res.durationS).toBe(0.2);
    expect(dominant(res.samples, [400, 900])).toBe(400);
  });

  it("DTMF # ends it on its own: run() resolves with reason dtmf, no hangup needed", async () => {
    const r = rig();
    await throughGreeting(r.clock);
    for (const p of callerPackets(20)) {
      r.socket.deliver(p, CALLER.address, CALLER.port);
      r.clock.advance(20);
    }
    for (let i = 0; i < 3; i++) r.socket.deliver(rtp({ seq: 21 + i, ts: 21 * 160, ssrc: 77, pt: 101 }, dtmfPayload(11, true, 1200)), CALLER.address, CALLER.port);
    await settle();
    expect(r.result?.reason).toBe("dtmf");
    expect(r.result?.stats.dtmfEvents).toBe(1);
    expect(r.result?.durationS).toBe(0.4);
    r.session.hangup(); // the BYE after it changes nothing
    expect(r.result?.reason).toBe("dtmf");
  });

  it("long silence ends it", async () => {
    const r = rig({ silenceS: 2 });
    await throughGreeting(r.clock);
    for (const p of callerPackets(25)) {
      r.socket.deliver(p, CALLER.address, CALLER.port);
      r.clock.advance(20);
    }
    r.clock.advance(2000);
    await settle();
    expect(r.result?.reason).toBe("silence");
    expect(r.result?.durationS).toBe(0.5);
  });

  it("max length ends it", async () => {
    const r = rig({ maxLengthS: 1 });
    await throughGreeting(r.clock);
    for (const p of callerPackets(80)) {
      r.socket.deliver(p, CALLER.address, CALLER.port);
      r.clock.advance(20);
    }
    await settle();
    expect(r.result?.reason).toBe("max_length");
    expect(r.result?.samples.length).toBe(8000);
  });

  it("only the caller's address is heard; the port is latched from its first RTP packet (symmetric RTP), the greeting follows it", async () => {
    const r = rig();
    // Before latching: another host, RTCP and junk from the caller's address are dropped and latch nothing.
    r.socket.deliver(callerPackets(1)[0]!, "198.18.0.66", CALLER.port);
    const rtcp = Buffer.from([0x80, 200, 0, 6, 0, 0, 0, 77, ...new Array(20).fill(0)]);
    r.socket.deliver(rtcp, CALLER.address, 30001);
    r.socket.deliver(Buffer.from("hello"), CALLER.address, 30002);
    r.clock.advance(20);
    expect(r.socket.sent.at(-1)!.port).toBe(CALLER.port);
    // The caller's NAT sends from 41000: the rest of the greeting goes there.
    r.socket.deliver(callerPackets(1)[0]!, CALLER.address, 41000);
    r.clock.advance(20);
    expect(r.socket.sent.at(-1)!.port).toBe(41000);
    await throughGreeting(r.clock);
    for (const p of callerPackets(10, 400, 5)) {
      r.socket.deliver(p, CALLER.address, 41000);
      r.socket.deliver(p, CALLER.address, CALLER.port); // the SDP port is no longer it
      r.socket.deliver(p, "::ffff:198.18.0.9", 41000);
      r.clock.advance(20);
    }
    r.session.hangup();
    const res = await r.running;
    expect(res.stats.accepted).toBe(10);
    expect(res.stats.droppedSource).toBe(3 + 20);
    expect(res.durationS).toBe(0.2);
  });

  it("an IPv4-mapped source address is the same caller", async () => {
    const r = rig();
    await throughGreeting(r.clock);
    for (const p of callerPackets(5)) r.socket.deliver(p, `::ffff:${CALLER.address}`, CALLER.port);
    r.session.hangup();
    expect((await r.running).stats.accepted).toBe(5);
  });

  it("hangup during the greeting: sending stops, run() resolves with an empty message, no timer or listener left", async () => {
    const r = rig();
    r.clock.advance(30);
    expect(r.socket.sent).toHaveLength(2);
    r.session.hangup();
    const res = await r.running;
    expect(res).toMatchObject({ reason: "hangup", durationS: 0 });
    expect(res.samples).toHaveLength(0);
    await throughGreeting(r.clock);
    expect(r.socket.sent).toHaveLength(2);
    expect(r.clock.pending()).toBe(0);
    expect(r.socket.listenerCount("message")).toBe(0);
  });

  it("PCMA when negotiated; bad options are refused at construction", async () => {
    const r = rig({ payloadType: 8 });
    r.clock.advance(1);
    expect(parseRtp(r.socket.sent[0]!.buf)!.payloadType).toBe(8);
    r.session.hangup();
    const base = { socket: new FakeSocket(new ManualClock()), remote: CALLER, greeting: new Int16Array(0), beep: new Int16Array(0), clock: new ManualClock(), log: silentLogger() };
    expect(() => new VoicemailSession({ ...base, payloadType: 18 as 0, maxLengthS: 10 })).toThrow(/payload type 18/);
    expect(() => new VoicemailSession({ ...base, payloadType: 0, maxLengthS: -1 })).toThrow(/max length/);
  });

  it("a node:dgram socket is a VoicemailSocket (type check)", () => {
    const s = dgram.createSocket("udp4");
    const v: VoicemailSocket = s;
    expect(typeof v.send).toBe("function");
    s.close();
  });
});
