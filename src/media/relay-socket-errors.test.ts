/**
 * A phone killed mid-call answers every packet we relay to it with an ICMP port unreachable,
 * which a connected socket reports as `recvmsg ECONNREFUSED`: ~50 a second per stream. Each
 * is counted in the call's media stats; the log gets a few lines a second for the whole relay.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { FakeUdpSocket } from "../../test/support/media/fake-udp.js";
import { relayRig } from "../../test/support/media/relay-rig.js";
import type { RelaySession } from "./relay-session.js";

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, errors: () => lines.filter((l) => l.msg === "media socket error") };
}

const fake = (s: RelaySession, which: "aRtp" | "aRtcp" | "bRtp" | "bRtcp") => s.sockets[which] as FakeUdpSocket;

describe("media socket errors", () => {
  it("1000 ECONNREFUSED in a second: a handful of lines, then one with the suppressed count; all counted in the call's stats", async () => {
    const { log, errors } = capture();
    const { relay, clock } = await relayRig({ log });
    const s = await relay.allocate("call-dead-phone");
    for (let i = 0; i < 1000; i++) fake(s, "aRtp").fail("ECONNREFUSED");
    expect(errors().length).toBeGreaterThan(0);
    expect(errors().length).toBeLessThanOrEqual(5);
    expect(errors()[0]).toMatchObject({ call_id: "call-dead-phone", side: "a", code: "ECONNREFUSED", err: "recvmsg ECONNREFUSED" });
    clock.advance(1000);
    fake(s, "aRtp").fail("ECONNREFUSED");
    expect(errors().at(-1)).toMatchObject({ call_id: "call-dead-phone", suppressed: 1000 - errors().length + 1 });
    expect(errors().length).toBeLessThanOrEqual(6);
    const st = s.stats();
    expect(st.a.tx.icmpErrors).toBe(1001);
    expect(st.b.tx.icmpErrors).toBe(0);
  });

  it("200 calls failing at once share one budget: still a handful of lines, each call counting its own", async () => {
    const { log, errors } = capture();
    const { relay } = await relayRig({ log, portMax: 50000 + 4 * 200 - 1 });
    const sessions: RelaySession[] = [];
    for (let i = 0; i < 200; i++) sessions.push(await relay.allocate(`call-${i}`));
    for (const s of sessions) for (let k = 0; k < 5; k++) fake(s, "bRtcp").fail("EHOSTUNREACH");
    expect(errors().length).toBeLessThanOrEqual(5);
    expect(sessions.map((s) => s.stats().b.tx.icmpErrors)).toEqual(sessions.map(() => 5));
  });

  it("counts only ICMP errors in the stats; any other socket error is still logged", async () => {
    const { log, errors } = capture();
    const { relay } = await relayRig({ log });
    const s = await relay.allocate("call-x");
    fake(s, "bRtp").fail("ENOBUFS", "send");
    expect(s.stats().b.tx.icmpErrors).toBe(0);
    expect(errors()).toEqual([expect.objectContaining({ side: "b", code: "ENOBUFS" })]);
  });
});
