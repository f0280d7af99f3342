import { afterEach, describe, expect, it, vi } from "vitest";
import { FINAL, PROVISIONAL } from "./latch.js";
import { RelaySession } from "./relay-session.js";
import { CALLEE, CALLER, GW, relayRig, rtp } from "../../test/support/media/relay-rig.js";

/**
 * The relay's shared tick does what is due, never one walk over every session at once: at 300
 * calls such a walk held the event loop ~0.4 ms every second, and V8's optimising compile of it
 * took ~10 ms on a thread sharing the relay's core, the worst pause of the relay (issue 16).
 */
describe("MediaRelay tick", () => {
  afterEach(() => vi.restoreAllMocks());

  it("checks the media timeouts of a slice of the sessions per tick, each session once per second", async () => {
    const { relay, clock } = await relayRig({ timeoutMs: 60_000, portMax: 50999 });
    const sessions: RelaySession[] = [];
    for (let i = 0; i < 100; i++) {
      const s = await relay.allocate(`c${i}`);
      s.setExpectedPeer("a", { address: CALLER, rtpPort: 4000 + 2 * i });
      s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 + 2 * i });
      sessions.push(s);
    }
    const checked = vi.spyOn(RelaySession.prototype, "silentFor");
    const confirmed = vi.spyOn(RelaySession.prototype, "confirmLatches");
    const perTick = new Map<number, number>();
    const perSession = new Map<RelaySession, number>();
    checked.mockImplementation(function (this: RelaySession) {
      perTick.set(clock.now(), (perTick.get(clock.now()) ?? 0) + 1);
      perSession.set(this, (perSession.get(this) ?? 0) + 1);
      return false;
    });
    clock.advance(3_000);
    // Two sides per session, 100 sessions over 20 ticks a second: 10 checks per tick.
    expect(Math.max(...perTick.values())).toBeLessThanOrEqual(10);
    expect(perTick.size).toBeGreaterThanOrEqual(60);
    for (const s of sessions) expect(perSession.get(s)).toBe(6); // 2 sides × 3 s
    // No latch is provisional (every source matched its SDP): nothing to confirm.
    expect(confirmed).not.toHaveBeenCalled();
  });

  it("confirms only the sessions with a provisional latch, within a tick's step of the window's end", async () => {
    const { net, relay, clock, callee } = await relayRig({ timeoutMs: 60_000 });
    const quiet = await relay.allocate("quiet");
    quiet.setExpectedPeer("a", { address: CALLER, rtpPort: 4000 });
    const s = await relay.allocate("nat");
    const confirmed = vi.spyOn(RelaySession.prototype, "confirmLatches");
    clock.advance(100);
    s.setExpectedPeer("a", { address: "10.0.0.5", rtpPort: 4000 }); // behind NAT: the source differs
    s.setExpectedPeer("b", { address: CALLEE, rtpPort: 6000 });
    const natted = await net.bind("198.18.0.99", 33333);
    natted.send(rtp(1), s.a.rtpPort, GW);
    callee.send(rtp(1), s.b.rtpPort, GW);
    expect(s.aRtp.state).toBe(PROVISIONAL);
    // The window (3 s from the SDP) ends at 3100: final at the next 50 ms tick, not at 4000.
    clock.advance(3_050);
    expect(s.aRtp.state).toBe(FINAL);
    expect(new Set(confirmed.mock.contexts)).toEqual(new Set([s]));
    const calls = confirmed.mock.calls.length;
    clock.advance(2_000);
    expect(confirmed.mock.calls.length).toBe(calls); // confirmed: no longer looked at
  });
});
