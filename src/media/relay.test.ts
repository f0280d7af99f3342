import { describe, expect, it } from "vitest";
import type { MediaOffload, OffloadFlow } from "./offload.js";
import { CALLEE, CALLER, GW, relayRig, rtp } from "../../test/support/media/relay-rig.js";

/** The shared relay rig: fake UDP, a manual clock, a caller at 4000 and a callee at 6000. */
const setup = relayRig;

describe("MediaRelay", () => {
  it("allocates even RTP ports with RTCP at +1 for both sides", async () => {
    const { relay } = await setup();
    const s = await relay.allocate("call-1");
    expect(s.a.rtpPort % 2).toBe(0);
    expect(s.b.rtpPort % 2).toBe(0);
    expect(s.a.rtcpPort).toBe(s.a.rtpPort + 1);
    expect(s.b.rtcpPort).toBe(s.b.rtpPort + 1);
    expect(s.a.rtpPort).not.toBe(s.b.rtpPort);
    expect(relay.sessions).toBe(1);
  });

  it("relays both ways symmetrically: each phone sees the gateway port it sends to as source", async () => {
    const { net, relay, caller, callee } = await setup();
    const s = await relay.allocate("call-1");
    s.setExpectedPeer("a", { address: CALLER, rtpPort: 4000 });
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 });
    const fromCaller = rtp(1);
    caller.send(fromCaller, s.a.rtpPort, GW);
    callee.send(rtp(7), s.b.rtpPort, GW);
    const atCallee = callee.received;
    const atCaller = caller.received;
    expect(atCallee).toHaveLength(1);
    expect(atCallee[0]!.msg).toBe(fromCaller); // the same Buffer: no copy
    expect(atCallee[0]!.from).toEqual({ address: GW, port: s.b.rtpPort });
    expect(atCaller).toHaveLength(1);
    expect(atCaller[0]!.from).toEqual({ address: GW, port: s.a.rtpPort });
    expect(net.sent.length).toBe(4);
    const st = s.stats();
    expect(st.a.rx).toMatchObject({ packets: 1, bytes: 172 });
    expect(st.b.tx).toMatchObject({ packets: 1, bytes: 172 });
    expect(st.a.latched && st.b.latched).toBe(true);
  });

  it("latches a NAT'ed caller whose source differs from its SDP, and answers to that source", async () => {
    const { net, relay, callee } = await setup();
    const s = await relay.allocate("call-nat");
    s.setExpectedPeer("a", { address: "10.0.0.5", rtpPort: 4000 }); // private address in SDP
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 });
    const natted = await net.bind("198.18.0.99", 33333);
    natted.send(rtp(1), s.a.rtpPort, GW);
    callee.send(rtp(1), s.b.rtpPort, GW);
    expect(natted.received).toHaveLength(1);
    expect(s.stats().a.peer).toEqual({ address: "198.18.0.99", rtpPort: 33333, rtcpPort: 4001 });
  });

  it("sends early media to the SDP address before the callee has sent anything", async () => {
    const { relay, caller, callee } = await setup();
    const s = await relay.allocate("early");
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 });
    caller.send(rtp(1), s.a.rtpPort, GW);
    expect(callee.received).toHaveLength(1);
  });

  it("counts packets with no destination yet instead of sending them anywhere", async () => {
    const { net, relay, caller } = await setup();
    const s = await relay.allocate("nodest");
    caller.send(rtp(1), s.a.rtpPort, GW);
    expect(net.sent).toHaveLength(1);
    expect(s.stats().a.rx.noDestination).toBe(1);
  });

  it("drops and counts a third party's packets after latching (no media hijack), RTCP too", async () => {
    const { net, relay, caller, callee } = await setup();
    const s = await relay.allocate("hijack");
    s.setExpectedPeer("a", { address: CALLER, rtpPort: 4000, rtcpPort: 4001 });
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 });
    caller.send(rtp(1), s.a.rtpPort, GW);
    const callerRtcp = await net.bind(CALLER, 4001);
    callerRtcp.send(Buffer.from([0x81, 200, 0, 1]), s.a.rtcpPort, GW);
    const evil = await net.bind("198.18.0.66", 4000);
    evil.send(rtp(2), s.a.rtpPort, GW);
    evil.send(Buffer.from([0x81, 200, 0, 1]), s.a.rtcpPort, GW);
    const atCallee = callee.received;
    expect(atCallee).toHaveLength(1);
    expect(s.stats().a.rx.dropped).toBe(2);
    expect(s.stats().a.rx.rtcpPackets).toBe(1);
    expect(s.stats().b.tx.rtcpPackets).toBe(1);
  });

  it("connected mode: the latched socket is connect()ed, a third party's packets never get through", async () => {
    const { net, relay, caller, callee } = await setup({ connect: true });
    const s = await relay.allocate("connected");
    s.setExpectedPeer("a", { address: CALLER, rtpPort: 4000 });
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 });
    caller.send(rtp(1), s.a.rtpPort, GW);
    callee.send(rtp(1), s.b.rtpPort, GW);
    await Promise.resolve(); // connect callbacks
    const evil = await net.bind("198.18.0.66", 4000);
    evil.send(rtp(2), s.a.rtpPort, GW);
    caller.send(rtp(3), s.a.rtpPort, GW);
    const atCallee = callee.received;
    expect(atCallee.map((r) => r.msg.readUInt16BE(2))).toEqual([1, 3]);
    // A re-INVITE moving the caller disconnects, so the new source can latch.
    s.setExpectedPeer("a", { address: CALLER, rtpPort: 4100 });
    const moved = await net.bind(CALLER, 4100);
    moved.send(rtp(4), s.a.rtpPort, GW);
    expect(atCallee).toHaveLength(3);
    expect(s.stats().a.peer?.rtpPort).toBe(4100);
  });

  it("re-learns the peer when a re-INVITE moves it", async () => {
    const { net, relay, caller, callee } = await setup();
    const s = await relay.allocate("move");
    s.setExpectedPeer("a", { address: CALLER, rtpPort: 4000 });
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 });
    caller.send(rtp(1), s.a.rtpPort, GW);
    const moved = await net.bind(CALLER, 4100);
    moved.send(rtp(2), s.a.rtpPort, GW);
    expect(s.stats().a.rx.dropped).toBe(1);
    s.setExpectedPeer("a", { address: CALLER, rtpPort: 4100 });
    moved.send(rtp(3), s.a.rtpPort, GW);
    expect(callee.received).toHaveLength(2);
    expect(s.stats().a.peer?.rtpPort).toBe(4100);
  });

  it("reports loss and jitter per RFC 3550 for the call", async () => {
    const { relay, caller, setHr } = await setup();
    const s = await relay.allocate("stats");
    for (let i = 0; i < 50; i++) {
      if (i === 10 || i === 11) continue;
      setHr(i * 20 + (i % 2 ? 2 : 0));
      caller.send(rtp(i), s.a.rtpPort, GW);
    }
    const rx = s.stats().a.rx;
    expect(rx.lost).toBe(2);
    expect(rx.jitter).toBeGreaterThan(5);
    expect(rx.jitterMs).toBeCloseTo(rx.jitter / 8, 1);
  });

  it("times out the side that went silent while the other keeps sending (a phone off Wi-Fi), once", async () => {
    const { relay, clock, caller, callee } = await setup({ timeoutMs: 10_000 });
    const s = await relay.allocate("to");
    const fired: string[] = [];
    s.on("timeout", (_s, side) => fired.push(side));
    // 5 s of two-way media, then the caller vanishes while the callee (the NGN) keeps sending.
    for (let t = 0; t < 30; t++) {
      if (t < 5) caller.send(rtp(t), s.a.rtpPort, GW);
      callee.send(rtp(t), s.b.rtpPort, GW);
      clock.advance(1_000);
      if (t < 14) expect(fired).toEqual([]);
    }
    expect(fired).toEqual(["a"]); // at ~15 s, and not again while a stays silent
    caller.send(rtp(99), s.a.rtpPort, GW); // back: a new silent spell may time out again
    for (let t = 0; t < 12; t++) {
      callee.send(rtp(100 + t), s.b.rtpPort, GW);
      clock.advance(1_000);
    }
    expect(fired).toEqual(["a", "a"]);
  });

  it("counts RTCP as life: a side sending only RTCP (silence suppression) does not time out", async () => {
    const { net, relay, clock, caller } = await setup({ timeoutMs: 10_000 });
    const s = await relay.allocate("rtcp-only");
    const callerRtcp = await net.bind(CALLER, 4001);
    const fired: string[] = [];
    s.on("timeout", (_s, side) => fired.push(side));
    for (let t = 0; t < 40; t++) {
      caller.send(rtp(t), s.a.rtpPort, GW);
      if (t % 5 === 0) callerRtcp.send(Buffer.from([0x81, 200, 0, 1]), s.b.rtcpPort, GW); // b side's RTCP port
      clock.advance(1_000);
    }
    expect(fired).toEqual([]);
    expect(s.stats().b.rx.rtcpPackets).toBe(8);
  });

  it("suspends both sides' timeouts while either is on hold, and restarts them on un-hold", async () => {
    const { relay, clock, caller, callee } = await setup({ timeoutMs: 10_000 });
    const s = await relay.allocate("hold");
    const fired: string[] = [];
    s.on("timeout", (_s, side) => fired.push(side));
    caller.send(rtp(1), s.a.rtpPort, GW);
    callee.send(rtp(1), s.b.rtpPort, GW);
    s.hold("a", true); // a sendonly without music on hold: nobody sends
    clock.advance(60_000);
    expect(fired).toEqual([]);
    s.hold("a", false);
    clock.advance(9_000);
    expect(fired).toEqual([]);
    clock.advance(2_000);
    expect(fired.sort()).toEqual(["a", "b"]); // both silent: each side named once
    clock.advance(30_000);
    expect(fired).toHaveLength(2);
  });

  it("times out an offloaded session's silent side from the kernel's counters, one read per poll for all sessions", async () => {
    const kernel = new Map<number, number>();
    let reads = 0;
    const offload: MediaOffload = {
      name: "fake",
      add: async () => true,
      remove: async () => undefined,
      close: async () => undefined,
      packets: async () => {
        reads++;
        return new Map(kernel);
      },
    };
    const { net, relay, clock, caller, callee } = await setup({ timeoutMs: 10_000, offload });
    const s = await relay.allocate("off-to");
    const other = await relay.allocate("off-other");
    const fired: string[] = [];
    s.on("timeout", (_s, side) => fired.push(`s:${side}`));
    other.on("timeout", (_s, side) => fired.push(`other:${side}`));
    const [c2, e2] = [await net.bind(CALLER, 4100), await net.bind(CALLEE, 6100)];
    for (const [sess, a, b, aPort, bPort] of [[s, caller, callee, 4000, 6000] as const, [other, c2, e2, 4100, 6100] as const]) {
      sess.setExpectedPeer("a", { address: CALLER, rtpPort: aPort });
      sess.setExpectedPeer("b", { address: CALLEE, rtpPort: bPort });
      a.send(rtp(1), sess.a.rtpPort, GW);
      b.send(rtp(1), sess.b.rtpPort, GW);
    }
    await relay.idle();
    expect(s.offloaded && other.offloaded).toBe(true);
    // From now on media bypasses our sockets: only the kernel counts it. s's callee stops after 4 s.
    for (let t = 1; t <= 30; t++) {
      kernel.set(s.a.rtpPort, t * 50);
      kernel.set(s.b.rtpPort, Math.min(t, 4) * 50);
      kernel.set(other.a.rtpPort, t * 50);
      kernel.set(other.b.rtcpPort, t); // RTCP alone keeps other's b alive
      clock.advance(1_000);
      await relay.idle();
      if (t < 14) expect(fired).toEqual([]);
    }
    expect(fired).toEqual(["s:b"]);
    expect(s.kernelA).toBeGreaterThanOrEqual(1350); // a recent poll: 27+ s of 50 packets/s
    // One nft read per 2.5 s poll (timeout/4) for both sessions, not one per session per tick.
    expect(reads).toBeGreaterThanOrEqual(10);
    expect(reads).toBeLessThanOrEqual(13);
  });

  it("never times out offloaded media it cannot count (no counters, or reading fails)", async () => {
    for (const packets of [undefined, async (): Promise<Map<number, number>> => Promise.reject(new Error("nft: no such table"))]) {
      const offload: MediaOffload = { name: "fake", add: async () => true, remove: async () => undefined, close: async () => undefined, ...(packets ? { packets } : {}) };
      const { relay, clock, caller, callee } = await setup({ timeoutMs: 10_000, offload });
      const s = await relay.allocate("blind");
      let fired = 0;
      s.on("timeout", () => fired++);
      s.setExpectedPeer("a", { address: CALLER, rtpPort: 4000 });
      s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 });
      caller.send(rtp(1), s.a.rtpPort, GW);
      callee.send(rtp(1), s.b.rtpPort, GW);
      await relay.idle();
      expect(s.offloaded).toBe(true);
      for (let t = 0; t < 60; t++) {
        clock.advance(1_000);
        await relay.idle();
      }
      expect(fired).toBe(0);
      await relay.close();
    }
  });

  it("release frees sockets, ports and the tick; is idempotent and returns final stats", async () => {
    const { net, relay, clock, caller } = await setup({ portMax: 50007 }); // 4 pairs = 2 sessions
    const open = net.open;
    const s1 = await relay.allocate("r1");
    await relay.allocate("r2");
    await expect(relay.allocate("r3")).rejects.toThrow(/exhausted/);
    expect(net.open).toBe(open + 8);
    caller.send(rtp(1), s1.a.rtpPort, GW);
    const st = s1.release("bye");
    expect(st.a.rx.packets).toBe(1);
    expect(s1.release("again")).toBe(st);
    expect(net.open).toBe(open + 4);
    expect(relay.sessions).toBe(1);
    await relay.allocate("r3");
    await relay.close();
    expect(net.open).toBe(open);
    expect(relay.freePairs).toBe(4);
    expect(clock.pending()).toBe(0);
  });

  it("hands a session to the offload once both sides are latched, and frees ports only after removal", async () => {
    const calls: string[] = [];
    let flowsSeen: OffloadFlow[] = [];
    let finishRemove: () => void = () => undefined;
    const offload: MediaOffload = {
      name: "fake",
      add: async (key, flows) => {
        calls.push(`add ${key}`);
        flowsSeen = flows;
        return true;
      },
      remove: (key, reason) => {
        calls.push(`remove ${key} ${reason}`);
        return new Promise<void>((r) => (finishRemove = r));
      },
      close: async () => void calls.push("close"),
    };
    const { relay, caller, callee } = await setup({ offload, portMax: 50003 });
    const s = await relay.allocate("off");
    s.setExpectedPeer("a", { address: CALLER, rtpPort: 4000 });
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 });
    caller.send(rtp(1), s.a.rtpPort, GW);
    expect(calls).toEqual([]);
    callee.send(rtp(1), s.b.rtpPort, GW);
    await relay.idle();
    expect(calls).toEqual([`add ${s.a.rtpPort}`]);
    expect(s.stats().offloaded).toBe(true);
    expect(flowsSeen[0]).toEqual({ inPort: s.a.rtpPort, src: { address: CALLER, port: 4000 }, outPort: s.b.rtpPort, dst: { address: CALLEE, port: 6000 } });
    expect(flowsSeen[1]).toEqual({ inPort: s.b.rtpPort, src: { address: CALLEE, port: 6000 }, outPort: s.a.rtpPort, dst: { address: CALLER, port: 4000 } });
    s.release("bye");
    await Promise.resolve();
    expect(relay.freePairs).toBe(0); // rules not gone yet: ports stay out of the pool
    finishRemove();
    await relay.idle();
    expect(calls).toContain(`remove ${s.a.rtpPort} bye`);
    expect(relay.freePairs).toBe(2);
  });

  it("stays in userspace when the offload refuses", async () => {
    const offload: MediaOffload = { name: "no", add: async () => false, remove: async () => undefined, close: async () => undefined };
    const { relay, caller, callee } = await setup({ offload });
    const s = await relay.allocate("refused");
    s.setExpectedPeer("a", { address: CALLER, rtpPort: 4000 });
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 });
    caller.send(rtp(1), s.a.rtpPort, GW);
    callee.send(rtp(1), s.b.rtpPort, GW);
    await relay.idle();
    expect(s.stats().offloaded).toBe(false);
    caller.send(rtp(2), s.a.rtpPort, GW);
    expect(s.stats().b.tx.packets).toBe(2);
  });
});
