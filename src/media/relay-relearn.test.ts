import { describe, expect, it } from "vitest";
import { CONFIRM_WINDOW_MS } from "./latch.js";
import { CALLEE, GW, relayRig, rtp, ScriptedOffload, seqs } from "../../test/support/media/relay-rig.js";

/** The caller behind a NAT: SDP names its private address, packets come from its mapping. */
const PRIVATE = "10.0.0.5";
const OLD_MAPPING = { address: "198.18.0.99", port: 33000 };
const NEW_MAPPING = { address: "198.18.0.99", port: 41000 };

describe("RelaySession.relearn: a phone whose NAT mapping changed mid-call", () => {
  it("userspace, connected sockets: the new source latches again (provisionally, then for good) and the call does not time out", async () => {
    const { relay, clock, callee, phone, settle } = await relayRig({ connect: true, timeoutMs: 10_000 });
    const s = await relay.allocate("nat-moved");
    const fired: string[] = [];
    s.on("timeout", (_s, side) => fired.push(side));
    s.setExpectedPeer("a", { address: PRIVATE, rtpPort: 4000 });
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 });
    const oldMap = await phone(OLD_MAPPING.address, OLD_MAPPING.port);
    oldMap.send(rtp(1), s.a.rtpPort, GW);
    callee.send(rtp(1), s.b.rtpPort, GW);
    clock.advance(CONFIRM_WINDOW_MS + 1_000); // the caller's latch turns final: its socket is connect()ed
    await settle();
    expect(s.aRtp.connected).toBe(true);
    // The NAT rebinds: the caller's packets now come from a new port, which the socket refuses.
    const newMap = await phone(NEW_MAPPING.address, NEW_MAPPING.port);
    newMap.send(rtp(2), s.a.rtpPort, GW);
    expect(seqs(callee)).toEqual([1]);
    s.relearn("a");
    expect(s.aRtp.connected).toBe(false);
    for (let t = 0; t < 20; t++) {
      newMap.send(rtp(3 + t), s.a.rtpPort, GW);
      callee.send(rtp(100 + t), s.b.rtpPort, GW);
      clock.advance(1_000);
      await settle();
    }
    expect(seqs(callee).slice(0, 3)).toEqual([1, 3, 4]);
    expect(seqs(callee)).toHaveLength(21);
    // The callee's media follows the caller's new mapping as soon as it latched.
    expect(seqs(newMap)).toHaveLength(20);
    expect(s.stats().a.peer).toMatchObject({ address: NEW_MAPPING.address, rtpPort: NEW_MAPPING.port });
    expect(s.stats().a.latched).toBe(true);
    expect(s.aRtp.connected).toBe(true); // final after the window: connected again, to the new source
    expect(fired).toEqual([]);
    await relay.close();
  });

  it("offloaded: the kernel flows for the old mapping are removed, userspace relays the new one, and it is offloaded again once final", async () => {
    const offload = new ScriptedOffload();
    const { relay, clock, callee, phone, settle } = await relayRig({ offload });
    const s = await relay.allocate("nat-moved-off");
    s.setExpectedPeer("a", { address: PRIVATE, rtpPort: 4000 });
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 });
    const oldMap = await phone(OLD_MAPPING.address, OLD_MAPPING.port);
    oldMap.send(rtp(1), s.a.rtpPort, GW);
    callee.send(rtp(1), s.b.rtpPort, GW);
    clock.advance(CONFIRM_WINDOW_MS + 1_000);
    await settle();
    expect(s.offloaded).toBe(true);
    expect(offload.calls).toHaveLength(1);
    s.relearn("a");
    expect(s.offloaded).toBe(false);
    expect(offload.calls[1]).toBe(`remove ${s.a.rtpPort} a flow moved`);
    await settle();
    expect(offload.installed.size).toBe(0);
    const newMap = await phone(NEW_MAPPING.address, NEW_MAPPING.port);
    newMap.send(rtp(2), s.a.rtpPort, GW);
    callee.send(rtp(2), s.b.rtpPort, GW);
    expect(seqs(callee)).toEqual([1, 2]);
    expect(seqs(newMap)).toEqual([2]);
    await settle();
    expect(offload.calls).toHaveLength(2); // provisional: not offloaded yet
    clock.advance(CONFIRM_WINDOW_MS + 1_000);
    await settle();
    expect(s.offloaded).toBe(true);
    const flows = offload.installed.get(s.a.rtpPort)!;
    expect(flows.find((f) => f.inPort === s.a.rtpPort)!.src).toEqual(NEW_MAPPING);
    expect(flows.find((f) => f.inPort === s.b.rtpPort)!.dst).toEqual(NEW_MAPPING);
    await relay.close();
  });
});
