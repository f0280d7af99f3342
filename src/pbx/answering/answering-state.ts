/**
 * The states of one call the answering machine takes, as its UAS dialog sees them (RFC 3261
 * §12: early, confirmed, terminated; RFC 6026 §7.1's "accepted" between our 2xx and the ACK),
 * with "ringing" while its answer delay runs and "answering" while its RTP socket is bound:
 *
 *   ringing ───> answering ───> accepted ───> recording ───> ended
 *      └────────────┴──────────────┴──────────────┴──────────────^
 *
 * "recording" starts with the caller's ACK (the dialog is confirmed: greeting, beep, message);
 * a CANCEL, the caller's BYE, a refused offer or a missing ACK end it from any state.
 */
import type { Logger } from "../../log.js";

export type AnsweringState = "ringing" | "answering" | "accepted" | "recording" | "ended";

export const ANSWERING_TRANSITIONS: Readonly<Record<AnsweringState, readonly AnsweringState[]>> = {
  ringing: ["answering", "ended"],
  answering: ["accepted", "ended"],
  accepted: ["recording", "ended"],
  recording: ["ended"],
  ended: [],
};

export class AnsweringStateMachine {
  private current: AnsweringState = "ringing";

  constructor(private readonly log: Logger) {}

  get state(): AnsweringState {
    return this.current;
  }

  get ended(): boolean {
    return this.current === "ended";
  }

  /** Move when the table allows it; anything else is refused and logged (a bug to see), never applied. */
  transition(to: AnsweringState): boolean {
    const from = this.current;
    if (!ANSWERING_TRANSITIONS[from].includes(to)) {
      this.log.error({ from, to }, "illegal answering-machine state transition refused");
      return false;
    }
    this.current = to;
    this.log.debug({ from, to }, "answering machine state");
    return true;
  }
}
