import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { CALL_STATES, CALL_TRANSITIONS, CallStateMachine, type CallState } from "./call-state.js";

function machine() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { m: new CallStateMachine(log), lines };
}

/** A machine walked to `state` through allowed moves only. */
function at(state: CallState) {
  const path: Record<CallState, CallState[]> = {
    trying: [],
    early: ["early"],
    accepted: ["early", "accepted"],
    confirmed: ["early", "accepted", "confirmed"],
    terminated: ["terminated"],
  };
  const r = machine();
  for (const s of path[state]) expect(r.m.transition(s)).toBe(true);
  expect(r.m.state).toBe(state);
  r.lines.length = 0;
  return r;
}

describe("CallStateMachine", () => {
  it("starts in trying", () => {
    expect(machine().m.state).toBe("trying");
  });

  const pairs = CALL_STATES.flatMap((from) => CALL_STATES.map((to) => [from, to] as const));
  const legal = pairs.filter(([from, to]) => CALL_TRANSITIONS[from].includes(to));
  const illegal = pairs.filter(([from, to]) => !CALL_TRANSITIONS[from].includes(to));

  it("has the moves of a B2BUA call and no other", () => {
    expect(legal.map(([f, t]) => `${f}→${t}`).sort()).toEqual(
      ["trying→early", "trying→accepted", "trying→terminated", "early→accepted", "early→terminated", "accepted→confirmed", "accepted→terminated", "confirmed→terminated"].sort(),
    );
  });

  it.each(legal)("%s → %s is applied", (from, to) => {
    const { m, lines } = at(from);
    expect(m.transition(to)).toBe(true);
    expect(m.state).toBe(to);
    expect(lines.some((l) => l.level === 50)).toBe(false);
  });

  it.each(illegal)("%s → %s is refused, logged and not applied", (from, to) => {
    const { m, lines } = at(from);
    expect(m.transition(to)).toBe(false);
    expect(m.state).toBe(from);
    expect(lines).toContainEqual(expect.objectContaining({ level: 50, from, to, msg: "illegal call state transition refused" }));
  });

  it("reports the status `hikari-gw status` shows, and what the call may still do", () => {
    const seen = CALL_STATES.map((s) => {
      const { m } = at(s);
      return [s, m.status, m.ringing, m.answered, m.ended];
    });
    expect(seen).toEqual([
      ["trying", "trying", true, false, false],
      ["early", "ringing", true, false, false],
      ["accepted", "answered", false, true, false],
      ["confirmed", "answered", false, true, false],
      ["terminated", "ended", false, false, true],
    ]);
  });
});
