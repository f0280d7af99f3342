/**
 * What a tracked nonce-count costs. Every INVITE a phone authenticates leaves its nonce in
 * the replay table (RFC 7616 §3.4) for up to `limits.tracked_nonces` more (65,536 by default),
 * so the entry must be a few dozen bytes, not the request text it was parsed from: a
 * substring of a parsed header keeps its parent string alive (V8's sliced strings), which made
 * each of them cost the whole Authorization value and more (~700 B per call in the
 * call-churn lab, 45 MB at the bound).
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { liveHeap } from "../../test/support/heap.js";
import { DigestServer, computeHa1, digestAuthorization, type Ha1Lookup } from "./digest.js";

describe("DigestServer memory", () => {
  it("a tracked nonce costs < 120 bytes, whatever the size of the header it came in", () => {
    const clock = new ManualClock(1_700_000_000_000);
    const server = new DigestServer({ realm: "hikari-gw", secret: "s3cret", nonceTtlMs: 300_000, clock, maxTrackedNonces: 65_536 });
    const ha1 = computeHa1("801", "hikari-gw", "pw801", "MD5");
    const lookup: Ha1Lookup = (u) => (u === "801" ? ha1 : undefined);
    // A long header value, as a datagram's text would be: padding parameters around the digest.
    const pad = `, opaque="${"x".repeat(2000)}"`;
    const N = 20_000;
    const values: string[] = [];
    for (let i = 0; i < N; i++) {
      const auth = digestAuthorization({ challenge: server.challenge({ proxy: true }), method: "INVITE", uri: "sip:802@gw", username: "801", password: "pw801", nc: 1 });
      // Sequential (flat) strings, one each, as a parsed datagram's would be.
      values.push(Buffer.from(auth + pad, "latin1").toString("latin1"));
    }
    // One byte per character (V8 one-byte strings), freed below unless the table keeps them.
    const valueBytes = values.reduce((n, v) => n + v.length, 0);
    const before = liveHeap();
    for (const v of values) expect(server.verify(v, "INVITE", lookup).ok).toBe(true);
    values.length = 0;
    const after = liveHeap();
    expect(server.trackedNonces()).toBe(N);
    const kept = (after - (before - valueBytes)) / N;
    expect(kept, "heap bytes per tracked nonce").toBeLessThan(120);
  });

  it("forgets nonces older than their lifetime: they are refused as stale before the table is read", () => {
    const clock = new ManualClock(1_700_000_000_000);
    const server = new DigestServer({ realm: "hikari-gw", secret: "s3cret", nonceTtlMs: 60_000, clock, maxTrackedNonces: 65_536 });
    const ha1 = computeHa1("801", "hikari-gw", "pw801", "MD5");
    const lookup: Ha1Lookup = (u) => (u === "801" ? ha1 : undefined);
    const sign = () => digestAuthorization({ challenge: server.challenge({ proxy: true }), method: "INVITE", uri: "sip:802@gw", username: "801", password: "pw801", nc: 1 });
    for (let i = 0; i < 1000; i++) expect(server.verify(sign(), "INVITE", lookup).ok).toBe(true);
    expect(server.trackedNonces()).toBe(1000);
    // Two lifetimes on, one more call: the thousand are past any use and gone.
    clock.advance(121_000);
    expect(server.verify(sign(), "INVITE", lookup).ok).toBe(true);
    expect(server.trackedNonces()).toBe(1);
  });
});
