import { describe, expect, it } from "vitest";
import { CALLEE, CALLER, GW, relayRig, rtp, ScriptedOffload, seqs } from "../../test/support/media/relay-rig.js";

/** An offloaded call: both phones latched on their SDP addresses, the kernel has the flows. */
async function offloadedCall(opts: { timeoutMs?: number } = {}) {
  const offload = new ScriptedOffload();
  const rig = await relayRig({ offload, ...opts });
  const s = await rig.relay.allocate("moving");
  s.setExpectedPeer("a", { address: CALLER, rtpPort: 4000 });
  s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 });
  rig.caller.send(rtp(1), s.a.rtpPort, GW);
  rig.callee.send(rtp(1), s.b.rtpPort, GW);
  await rig.settle();
  expect(s.offloaded).toBe(true);
  expect(offload.installed.has(s.a.rtpPort)).toBe(true);
  return { ...rig, offload, s };
}

describe("offloaded session and a peer that moves", () => {
  it("takes the session out of the kernel, relays to the new address, and offloads the new flows once latched", async () => {
    const { offload, s, phone, caller, callee, settle } = await offloadedCall();
    // re-INVITE: the callee resumes from another port.
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6100 });
    expect(s.offloaded).toBe(false); // at once: the userspace path owns the media again
    expect(offload.calls.at(-1)).toBe(`remove ${s.a.rtpPort} b peer moved`);
    await settle();
    expect(offload.installed.size).toBe(0);
    expect(offload.calls.filter((c) => c.startsWith("add"))).toHaveLength(1); // b not latched yet: no re-install
    // Userspace: the caller's media goes to the callee's new SDP address, not the old one.
    const moved = await phone(CALLEE, 6100);
    caller.send(rtp(10), s.a.rtpPort, GW);
    expect(seqs(moved)).toEqual([10]);
    expect(seqs(callee)).toEqual([1]); // nothing new at the old address
    // The callee's first packet from there latches for good: the session goes back to the kernel.
    moved.send(rtp(20), s.b.rtpPort, GW);
    expect(seqs(caller)).toEqual([1, 20]);
    await settle();
    expect(s.offloaded).toBe(true);
    const flows = offload.installed.get(s.a.rtpPort)!;
    expect(flows.find((f) => f.inPort === s.a.rtpPort)!.dst).toEqual({ address: CALLEE, port: 6100 });
    expect(flows.find((f) => f.inPort === s.b.rtpPort)!.src).toEqual({ address: CALLEE, port: 6100 });
  });

  it("an install in flight when the peer moves is removed as it lands; the new flows follow", async () => {
    const offload = new ScriptedOffload();
    offload.hold = "add";
    const { relay, caller, callee, phone, settle, flush } = await relayRig({ offload });
    const s = await relay.allocate("race");
    s.setExpectedPeer("a", { address: CALLER, rtpPort: 4000 });
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 });
    caller.send(rtp(1), s.a.rtpPort, GW);
    callee.send(rtp(1), s.b.rtpPort, GW);
    await flush();
    expect(offload.holding).toBe(true);
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6100 });
    const moved = await phone(CALLEE, 6100);
    moved.send(rtp(2), s.b.rtpPort, GW); // latched again while the old install is still in flight
    expect(offload.calls).toHaveLength(1);
    offload.finish();
    await settle();
    expect(offload.calls.map((c) => c.split(" ").slice(0, 2).join(" "))).toEqual([`add ${s.a.rtpPort}`, `remove ${s.a.rtpPort}`, `add ${s.a.rtpPort}`]);
    expect(offload.calls[1]).toContain("peer moved while installing");
    expect(offload.calls[2]).toContain(`${CALLEE}:6100`);
    expect(offload.calls[2]).not.toContain(`${CALLEE}:6000`);
    expect(s.offloaded).toBe(true);
  });

  it("a release during the removal leaves no rule behind and frees the ports only after it", async () => {
    const { offload, relay, s, phone, settle, flush } = await offloadedCall();
    const freeBefore = relay.freePairs;
    offload.hold = "remove";
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6100 });
    const moved = await phone(CALLEE, 6100);
    moved.send(rtp(2), s.b.rtpPort, GW); // final again: would re-install once the removal is done
    s.release("bye");
    await flush();
    expect(offload.holding).toBe(true);
    expect(relay.freePairs).toBe(freeBefore); // a rule may still name the ports
    offload.finish();
    await settle();
    expect(offload.installed.size).toBe(0);
    expect(offload.calls.filter((c) => c.startsWith("add"))).toHaveLength(1); // no re-install for a released call
    expect(relay.freePairs).toBe(freeBefore + 2);
  });

  it("keeps the per-side timeout honest across the move: kernel counts stay counted, the moved side is judged in userspace", async () => {
    const { offload, relay, s, caller, clock, settle } = await offloadedCall({ timeoutMs: 10_000 });
    const fired: string[] = [];
    s.on("timeout", (_s, side) => fired.push(side));
    for (let t = 1; t <= 5; t++) {
      offload.kernel.set(s.a.rtpPort, t * 50);
      offload.kernel.set(s.b.rtpPort, t * 50);
      clock.advance(1_000);
      await settle();
    }
    const kernelA = s.kernelA;
    expect(kernelA).toBeGreaterThan(0);
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6100 }); // the callee never sends from there
    await settle();
    offload.kernel.clear(); // its rules are gone
    for (let t = 0; t < 30; t++) {
      caller.send(rtp(100 + t), s.a.rtpPort, GW); // now through our sockets
      clock.advance(1_000);
      await settle();
      if (t < 8) expect(fired).toEqual([]);
    }
    expect(fired).toEqual(["b"]);
    expect(s.kernelA).toBe(kernelA); // not lost, not counted again
    expect(s.receivedFrom("a")).toBeGreaterThanOrEqual(kernelA + 30);
    await relay.close();
  });
});
