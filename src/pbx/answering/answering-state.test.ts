import { describe, expect, it } from "vitest";
import { silentLogger } from "../../log.js";
import { ANSWERING_TRANSITIONS, AnsweringStateMachine, type AnsweringState } from "./answering-state.js";

describe("answering machine state machine", () => {
  it("goes ringing → answering → accepted → recording → ended", () => {
    const fsm = new AnsweringStateMachine(silentLogger());
    for (const s of ["answering", "accepted", "recording", "ended"] as const) expect(fsm.transition(s)).toBe(true);
    expect(fsm.ended).toBe(true);
  });

  it("refuses every move the table does not list, and stays put", () => {
    const states = Object.keys(ANSWERING_TRANSITIONS) as AnsweringState[];
    for (const from of states)
      for (const to of states) {
        if (ANSWERING_TRANSITIONS[from].includes(to)) continue;
        const fsm = new AnsweringStateMachine(silentLogger());
        const path: AnsweringState[] = ["ringing", "answering", "accepted", "recording", "ended"];
        for (const s of path.slice(1, path.indexOf(from) + 1)) fsm.transition(s);
        expect(fsm.state).toBe(from);
        expect(fsm.transition(to)).toBe(false);
        expect(fsm.state).toBe(from);
      }
  });
});
