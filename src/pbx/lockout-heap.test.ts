/**
 * What a failure costs the lockout table. A scanner's guesses (svwar, svcrack) each leave a
 * pair entry for up to `limits.lockout_entries`; the extension in its key comes from a
 * parsed header, and a substring keeps its parent (the datagram's text) alive unless the
 * table copies it (src/flat-string.ts).
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { liveHeap } from "../../test/support/heap.js";
import { silentLogger } from "../log.js";
import { Lockout } from "./lockout.js";

describe("Lockout memory", () => {
  it("a failure keeps < 700 bytes, not the request text its extension was cut from", () => {
    const clock = new ManualClock(1_000_000);
    const lockout = new Lockout({ clock, log: silentLogger(), maxEntries: 100_000 });
    const N = 5000;
    const before = liveHeap();
    // Each guess's username (16 characters: V8 makes a view, not a copy, from 13 on), cut
    // from a 2 KB text of its own, as a parsed datagram's header would be.
    const names: string[] = [];
    for (let i = 0; i < N; i++) {
      const text = Buffer.from(`REGISTER ${"x".repeat(2000)} user${String(100000000000 + i)} end`, "latin1").toString("latin1");
      names.push(text.slice(text.length - 20, text.length - 4));
    }
    for (let i = 0; i < N; i++) lockout.recordFailure(names[i]!, `198.18.${(i >> 8) & 255}.${i & 255}`);
    names.length = 0;
    const perEntry = (liveHeap() - before) / N;
    expect(lockout.size()).toBeGreaterThanOrEqual(N);
    // ~460 B: a pair entry and the address's scan record (its Set); 2 KB more if the text stays.
    expect(perEntry, "heap bytes per failure remembered").toBeLessThan(700);
  });
});
