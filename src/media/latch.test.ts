import { describe, expect, it } from "vitest";
import { CONFIRM_WINDOW_MS, FINAL, Latch, PROVISIONAL, UNLATCHED } from "./latch.js";

describe("Latch", () => {
  it("sends to the SDP address until something is latched", () => {
    const l = new Latch();
    l.expect("198.18.0.10", 4000, 0);
    expect([l.peerAddr, l.peerPort, l.state]).toEqual(["198.18.0.10", 4000, UNLATCHED]);
  });

  it("latches the exact expected peer for good at once, then drops everyone else", () => {
    const l = new Latch();
    l.expect("198.18.0.10", 4000, 0);
    expect(l.admit("198.18.0.10", 4000, 10)).toBe(true);
    expect(l.state).toBe(FINAL);
    expect(l.admit("198.18.0.66", 4000, 20)).toBe(false);
    expect(l.admit("198.18.0.10", 4002, 20)).toBe(false);
  });

  it("latches a NAT'ed phone (unknown source) provisionally, final after the window", () => {
    const l = new Latch();
    l.expect("10.0.0.5", 4000, 0); // private address in SDP: never seen on the wire
    expect(l.admit("198.18.0.20", 31000, 100)).toBe(true);
    expect([l.peerAddr, l.peerPort, l.state]).toEqual(["198.18.0.20", 31000, PROVISIONAL]);
    expect(l.admit("198.18.0.21", 31000, 200)).toBe(false); // same rank: no takeover
    expect(l.confirm(CONFIRM_WINDOW_MS - 1)).toBe(false);
    expect(l.confirm(CONFIRM_WINDOW_MS)).toBe(true);
    expect(l.state).toBe(FINAL);
  });

  it("lets the phone's own address take over a stray that came first, while provisional", () => {
    const l = new Latch();
    l.expect("198.18.0.10", 4000, 0);
    expect(l.admit("198.18.0.66", 5000, 10)).toBe(true); // a stray, rank 1
    expect(l.admit("198.18.0.10", 4100, 20)).toBe(true); // same address, NAT'ed port: rank 2
    expect([l.peerAddr, l.peerPort, l.state]).toEqual(["198.18.0.10", 4100, PROVISIONAL]);
    expect(l.admit("198.18.0.66", 5000, 30)).toBe(false);
    expect(l.admit("198.18.0.10", 4000, 40)).toBe(true); // exact: final
    expect(l.state).toBe(FINAL);
  });

  it("unlatches when new SDP names another peer, not when it names the same or 0.0.0.0", () => {
    const l = new Latch();
    l.expect("198.18.0.10", 4000, 0);
    l.admit("198.18.0.10", 4000, 1);
    expect(l.expect("198.18.0.10", 4000, 5)).toBe(false);
    expect(l.expect("0.0.0.0", 4000, 6)).toBe(false);
    expect(l.state).toBe(FINAL);
    expect(l.expect("198.18.0.10", 4010, 7)).toBe(true);
    expect([l.peerAddr, l.peerPort, l.state]).toEqual(["198.18.0.10", 4010, UNLATCHED]);
  });

  it("without any SDP, the first source latches (benchmark mode)", () => {
    const l = new Latch();
    expect(l.admit("127.0.0.1", 40000, 0)).toBe(true);
    expect(l.state).toBe(PROVISIONAL);
    l.confirm(CONFIRM_WINDOW_MS);
    expect(l.admit("127.0.0.1", 40002, CONFIRM_WINDOW_MS + 1)).toBe(false);
  });

  it("relearn: a NAT'ed phone's new mapping latches provisionally, final a window after the relearn; the SDP address for good at once", () => {
    const l = new Latch();
    l.expect("10.0.0.5", 4000, 0);
    l.admit("198.18.0.20", 31000, 10);
    l.confirm(CONFIRM_WINDOW_MS);
    expect(l.admit("198.18.0.21", 42000, 10_000)).toBe(false); // final: the new mapping is refused
    l.relearn(10_000);
    // Until a new source shows up, media still goes to the last known one.
    expect([l.peerAddr, l.peerPort, l.state]).toEqual(["198.18.0.20", 31000, UNLATCHED]);
    expect(l.admit("198.18.0.21", 42000, 10_100)).toBe(true);
    expect([l.peerAddr, l.peerPort, l.state]).toEqual(["198.18.0.21", 42000, PROVISIONAL]);
    expect(l.confirm(10_000 + CONFIRM_WINDOW_MS - 1)).toBe(false);
    expect(l.confirm(10_000 + CONFIRM_WINDOW_MS)).toBe(true);
    // The expected peer was kept: a phone on its SDP address latches for good at once.
    l.relearn(20_000);
    expect(l.admit("10.0.0.5", 4000, 20_001)).toBe(true);
    expect(l.state).toBe(FINAL);
  });
});
