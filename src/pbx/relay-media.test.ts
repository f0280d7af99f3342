import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { FakeUdpNetwork } from "../../test/support/media/fake-udp.js";
import { MediaRelay } from "../media/relay.js";
import { sdpMediaTarget } from "../media/sdp.js";
import type { CallSide } from "./call-media.js";
import { relayMediaFactory } from "./relay-media.js";

const GW = "198.18.0.1";
const sdp = (addr: string, port: number): string => `v=0\r\no=- 1 1 IN IP4 ${addr}\r\ns=-\r\nc=IN IP4 ${addr}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;

function rtp(seq: number): Buffer {
  const b = Buffer.alloc(172);
  b[0] = 0x80;
  b.writeUInt16BE(seq, 2);
  return b;
}

describe("relay call media", () => {
  it("passes the side whose phone went silent to onTimeout", async () => {
    const net = new FakeUdpNetwork();
    const clock = new ManualClock(1_000);
    const relay = await MediaRelay.create({ bindAddress: GW, portMin: 50000, portMax: 50099, log: silentLogger(), clock, mediaTimeoutMs: 10_000, bindSocket: net.bind, connectLatched: false });
    const media = await relayMediaFactory(relay).create("call-1");
    const sides: (CallSide | undefined)[] = [];
    media.onTimeout = (side?: CallSide) => sides.push(side);
    // Where each phone is told to send: a's offer goes to b (names b's port at the gateway), and back.
    const toB = sdpMediaTarget(media.fromSide("a", sdp("198.18.0.10", 4000), GW))!;
    const toA = sdpMediaTarget(media.fromSide("b", sdp("198.18.1.20", 6000), GW))!;
    const phoneA = await net.bind("198.18.0.10", 4000);
    const phoneB = await net.bind("198.18.1.20", 6000);
    for (let t = 0; t < 20; t++) {
      phoneA.send(rtp(t), toA.rtpPort, GW);
      if (t < 3) phoneB.send(rtp(t), toB.rtpPort, GW);
      clock.advance(1_000);
    }
    expect(sides).toEqual(["b"]);
    media.release("test");
    await relay.close();
  });

  it("peerMoved relearns that side's media: a phone on a new NAT mapping keeps its call", async () => {
    const net = new FakeUdpNetwork();
    const clock = new ManualClock(1_000);
    const relay = await MediaRelay.create({ bindAddress: GW, portMin: 50000, portMax: 50099, log: silentLogger(), clock, mediaTimeoutMs: 10_000, bindSocket: net.bind, connectLatched: true });
    const media = await relayMediaFactory(relay).create("call-moved");
    const sides: (CallSide | undefined)[] = [];
    media.onTimeout = (side?: CallSide) => sides.push(side);
    const toB = sdpMediaTarget(media.fromSide("a", sdp("10.0.0.5", 4000), GW))!; // a behind NAT
    const toA = sdpMediaTarget(media.fromSide("b", sdp("198.18.1.20", 6000), GW))!;
    const oldMap = await net.bind("198.18.0.99", 33000);
    const newMap = await net.bind("198.18.0.99", 41000);
    const phoneB = await net.bind("198.18.1.20", 6000);
    for (let t = 0; t < 40; t++) {
      if (t === 10) media.peerMoved!("a"); // binding-moved: a's signalling re-registered from its new mapping
      (t < 8 ? oldMap : newMap).send(rtp(t), toA.rtpPort, GW);
      phoneB.send(rtp(t), toB.rtpPort, GW);
      clock.advance(1_000);
      for (let i = 0; i < 5; i++) await Promise.resolve(); // connect() callbacks
    }
    expect(sides).toEqual([]);
    const atNew = newMap.received.length;
    expect(atNew).toBeGreaterThanOrEqual(29); // b's media follows a from its first packet after the move
    media.release("test");
    await relay.close();
  });
});

describe("relay call media after release", () => {
  it("lets go of the relay session (an ended call lingers 64*T1), and still answers SDP with its ports", async () => {
    const net = new FakeUdpNetwork();
    const clock = new ManualClock(1_000);
    const relay = await MediaRelay.create({ bindAddress: GW, portMin: 50100, portMax: 50199, log: silentLogger(), clock, mediaTimeoutMs: 10_000, bindSocket: net.bind, connectLatched: false });
    const media = await relayMediaFactory(relay).create("call-2");
    const before = sdpMediaTarget(media.fromSide("a", sdp("198.18.0.10", 4000), GW))!;
    expect(media.release("test")).toBeDefined();
    expect(relay.sessions).toBe(0); // the session (sockets, latches) is gone from the relay
    expect(media.release("again")).toBeUndefined();
    // A late retransmission's SDP is still rewritten to the same ports; nothing throws.
    expect(sdpMediaTarget(media.fromSide("a", sdp("198.18.0.10", 4000), GW))!.rtpPort).toBe(before.rtpPort);
    media.peerMoved?.("a");
    await relay.close();
  });
});

describe("relay call media: figures logged once", () => {
  it("a call's release returns the stats (for its 'call ended' line) and the relay does not log them again at info", async () => {
    const { pino } = await import("pino");
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "info" }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const net = new FakeUdpNetwork();
    const clock = new ManualClock(1_000);
    const relay = await MediaRelay.create({ bindAddress: GW, portMin: 50100, portMax: 50199, log, clock, mediaTimeoutMs: 10_000, bindSocket: net.bind, connectLatched: false });
    const media = await relayMediaFactory(relay).create("call-2");
    const toA = sdpMediaTarget(media.fromSide("b", sdp("198.18.1.20", 6000), GW))!;
    media.fromSide("a", sdp("198.18.0.10", 4000), GW);
    const phoneA = await net.bind("198.18.0.10", 4000);
    for (let t = 0; t < 5; t++) phoneA.send(rtp(t), toA.rtpPort, GW);
    const live = media.live?.() as { a: { rx: { packets: number }; silent_ms: number } };
    expect(live.a.rx.packets).toBe(5);
    expect(typeof live.a.silent_ms).toBe("number");
    const stats = media.release("test") as { a: { rx: { packets: number } } };
    expect(stats.a.rx.packets).toBe(5);
    expect(lines.filter((l) => l.msg === "media session released" && "stats" in l)).toEqual([]);
    expect(media.live?.()).toBeUndefined();
    await relay.close();
  });
});
