/**
 * Fuzz: mutated and random packets against the decoders and a running client. Time-bounded
 * like undici's fuzzing suite: a few seconds locally, longer under CI=true.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { DhcpClient } from "./client.js";
import { noInterfaceChanges } from "./interface-setup.js";
import { leaseFromAck, trunkParamsFromLease } from "./lease.js";
import { decodeDhcpMessage } from "./packet.js";
import { parseIpUdp } from "./ip-udp.js";
import { bootReply, FakeTransport, NGN_ACK_OPTIONS_HEX } from "../../test/support/dhcp/fixtures.js";

// Bounded by count, not time: the seed reaches all four states by run 732, so a run count
// below that (a time budget on a loaded machine fit only 553) would fail by luck. The time
// limit is only a safety net for a machine far slower than any we run on.
const CLIENT_RUNS = process.env.CI === "true" ? 4_000 : 1_500;
const BUDGET_MS = 60_000;
// The decoders have no coverage goal: they fuzz for as long as the budget allows.
const DECODE_BUDGET_MS = process.env.CI === "true" ? 10_000 : 3_000;
const TIMEOUT_MS = BUDGET_MS + 20_000;
const ACK = bootReply(NGN_ACK_OPTIONS_HEX);
// The same options as an OFFER and as a NAK, so mutations reach every state's handler.
const seeds = [ACK, bootReply(NGN_ACK_OPTIONS_HEX.replace(/^350105/, "350102")), bootReply(NGN_ACK_OPTIONS_HEX.replace(/^350105/, "350106"))];
const LEN = ACK.length;

/** A fixture with some bytes overwritten, some cut, some inserted (or none of it). */
const mutated = fc
  .tuple(
    fc.nat(seeds.length - 1),
    fc.array(fc.tuple(fc.nat(LEN - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
    fc.nat(LEN),
    fc.uint8Array({ maxLength: 40 }),
    fc.nat(LEN),
  )
  .map(([which, flips, cut, insert, at]) => {
    const b = Buffer.from(seeds[which]!);
    for (const [i, v] of flips) b[i] = v;
    if (flips.length === 0) return b;
    const head = b.subarray(0, Math.max(240, Math.min(at, cut)));
    return Buffer.concat([head, Buffer.from(insert), b.subarray(head.length, Math.max(cut, head.length))]);
  });

const packet = fc.oneof(mutated, fc.uint8Array({ minLength: 0, maxLength: 700 }).map((a) => Buffer.from(a)));

function decodeAll(b: Buffer): void {
  const { message } = decodeDhcpMessage(b);
  parseIpUdp(b);
  if (!message) return;
  const lease = leaseFromAck(message, "wan0", 0, []);
  if (lease) {
    trunkParamsFromLease(lease);
    JSON.stringify(lease);
  }
}

describe("fuzz", () => {
  it("decoders never throw on hostile bytes", () => {
    fc.assert(fc.property(packet, (b) => decodeAll(b)), { interruptAfterTimeLimit: DECODE_BUDGET_MS, numRuns: 1_000_000 });
  }, TIMEOUT_MS);

  it("a running client survives mutated replies and still binds afterwards", async () => {
    const clock = new ManualClock(1_000_000);
    const transport = new FakeTransport();
    const client = new DhcpClient({ interface: "wan0", mac: "02:00:00:00:00:01", log: silentLogger(), clock, transport, configurator: noInterfaceChanges, initDelayMs: 0 });
    const errors: Error[] = [];
    client.on("error", (e) => errors.push(e));
    await client.start();
    clock.advance(0);
    const xidNow = () => decodeDhcpMessage(transport.sent.at(-1)!.payload).message!.xid;
    let runs = 0;
    const states = new Set<string>();
    let firstCoverage: number | undefined;
    await fc.assert(
      // Time steps are mostly short, sometimes past T1 (7200 s) or T2 (10800 s) of the fixture's
      // lease, so a bound client reaches RENEWING and REBINDING within a few dozen runs.
      fc.asyncProperty(mutated, fc.oneof(fc.nat(100_000), fc.integer({ min: 7_100_000, max: 15_000_000 })), async (b, dt) => {
        runs++;
        // Aim at the live exchange so mutations reach the option parsers and the machine.
        if (b.length >= 8) b.writeUInt32BE(xidNow(), 4);
        transport.deliver(b);
        await client.whenIdle();
        states.add(client.state);
        clock.advance(dt);
        states.add(client.state);
        firstCoverage ??= ["selecting", "requesting", "bound", "renewing"].every((s) => states.has(s)) ? runs : undefined;
      }),
      // A fixed seed: the runs are the same on every machine.
      { interruptAfterTimeLimit: BUDGET_MS, numRuns: CLIENT_RUNS, seed: 20261123 },
    );
    expect(runs).toBeGreaterThan(50);
    console.log(`dhcp client fuzz: ${runs} runs, states ${[...states].join(",")}, all four by run ${firstCoverage}`);
    // The mutations drove the machine through its states, not just past the xid check.
    expect([...states]).toEqual(expect.arrayContaining(["selecting", "requesting", "bound", "renewing"]));
    expect(errors).toEqual([]);
    // Not wedged: stop, start again and bind with clean replies.
    await client.stop({ release: false });
    const t2 = new FakeTransport();
    const c2 = new DhcpClient({ interface: "wan0", mac: "02:00:00:00:00:01", log: silentLogger(), clock, transport: t2, configurator: noInterfaceChanges, initDelayMs: 0 });
    await c2.start();
    clock.advance(0);
    const xid = decodeDhcpMessage(t2.sent.at(-1)!.payload).message!.xid;
    t2.deliver(bootReply("35 01 02 36 04 c6 12 01 01 ff", { xid }));
    t2.deliver(bootReply(NGN_ACK_OPTIONS_HEX, { xid }));
    await c2.whenIdle();
    expect(c2.state).toBe("bound");
  }, TIMEOUT_MS);
});
