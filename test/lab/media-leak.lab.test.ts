/**
 * 10,000 calls' worth of relay sessions set up and torn down with real sockets on loopback
 * leave nothing behind: no open descriptor, no port out of the pool, no timer, no session.
 * (nftables rules: see media-relay.lab.test.ts, which checks the table is gone after the relay.)
 * Sessions are held 50 at a time (a busy gateway), each one carrying a packet both ways,
 * so release also runs after latching and connect().
 */
import dgram from "node:dgram";
import { readdirSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { systemClock, type Clock } from "../../src/clock.js";
import { silentLogger } from "../../src/log.js";
import { MediaRelay } from "../../src/media/relay.js";
import { labReady } from "./env.js";

const ready = labReady("media-leak", []);

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** systemClock, counting live timers (the relay's are unref()'d, so Node's resource list hides them). */
let liveTimers = 0;
const countingClock: Clock = {
  now: () => systemClock.now(),
  setTimeout: (fn, ms) => {
    liveTimers++;
    return systemClock.setTimeout(() => {
      liveTimers--;
      fn();
    }, ms);
  },
  clearTimeout: (h) => {
    if (h === undefined) return;
    liveTimers--;
    systemClock.clearTimeout(h);
  },
};

describe.skipIf(!ready)("media relay: no leak after 10,000 sessions", () => {
  const phones: dgram.Socket[] = [];
  afterAll(() => {
    for (const p of phones) p.close();
  });

  it("returns every socket, port and timer", async () => {
    const bind = (port: number) =>
      new Promise<dgram.Socket>((res) => {
        const s = dgram.createSocket("udp4");
        s.bind(port, "127.0.0.1", () => res(s));
      });
    const caller = await bind(0);
    const callee = await bind(0);
    phones.push(caller, callee);
    let heard = 0;
    callee.on("message", () => heard++);
    caller.on("message", () => heard++);
    const fds0 = openFds();
    const relay = await MediaRelay.create({ bindAddress: "127.0.0.1", portMin: 30000, portMax: 30999, log: silentLogger(), mediaTimeoutMs: 60_000, clock: countingClock });
    const pairs = relay.freePairs;
    const pkt = Buffer.alloc(172, 0);
    pkt[0] = 0x80;
    const TOTAL = 10_000;
    const BATCH = 50;
    const started = Date.now();
    let done = 0;
    for (; done < TOTAL && Date.now() - started < 100_000; done += BATCH) {
      const batch = await Promise.all(Array.from({ length: BATCH }, (_, i) => relay.allocate(`leak-${done + i}`)));
      for (const s of batch) {
        s.setExpectedPeer("a", { address: "127.0.0.1", rtpPort: caller.address().port });
        s.setExpectedPeer("b", { address: "127.0.0.1", rtpPort: callee.address().port });
        caller.send(pkt, s.a.rtpPort, "127.0.0.1");
        callee.send(pkt, s.b.rtpPort, "127.0.0.1");
      }
      await new Promise((r) => setTimeout(r, 2));
      expect(relay.sessions).toBe(BATCH);
      expect(liveTimers).toBe(1); // one shared tick, however many sessions
      for (const s of batch) s.release("test");
    }
    expect(done).toBe(TOTAL);
    expect(relay.sessions).toBe(0);
    expect(relay.freePairs).toBe(pairs);
    await relay.close();
    // Closed sockets give their descriptors back on the next loop turns.
    for (let i = 0; i < 50 && openFds() > fds0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(openFds()).toBe(fds0);
    expect(liveTimers).toBe(0);
    expect(heard).toBeGreaterThan(TOTAL); // media really flowed through those sessions
  });
});
