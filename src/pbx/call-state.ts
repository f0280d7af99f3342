/**
 * The states a call through the B2BUA goes through, as its caller's dialog sees them, and
 * the one guarded way between them. Named after RFC 3261 §12's dialog states (early,
 * confirmed, terminated), with "trying" before any provisional went to the caller (as the
 * INVITE server transaction's Proceeding starts with 100 Trying, §17.2.1) and RFC 6026
 * §7.1's "accepted" for the span between our 2xx and the caller's ACK:
 *
 *   trying ───> early ───> accepted ───> confirmed
 *     │ └──────────────────────^ │             │
 *     │            │             │             │
 *     └────────────┴─────────────┴─────────────┴───> terminated
 *
 * There is no "terminating": a UA considers the session over as soon as it sends BYE
 * (§15.1.1), and a CANCEL or a final failure ends the caller's dialog at once (§9.2,
 * §12.3), so the call ends in one step; the dialogs it filed linger for late
 * retransmissions on their own.
 */
import type { Logger } from "../log.js";

export type CallState = "trying" | "early" | "accepted" | "confirmed" | "terminated";

/** The call as `hikari-gw status` and the PBX's channel count show it. */
export type CallStatus = "trying" | "ringing" | "answered" | "ended";

/** Every move a call may make; any other is refused. */
export const CALL_TRANSITIONS: Readonly<Record<CallState, readonly CallState[]>> = {
  // A provisional went to the caller; a device answered at once; or the call failed, was
  // cancelled, timed out or was hung up before any of that.
  trying: ["early", "accepted", "terminated"],
  early: ["accepted", "terminated"],
  // The caller's ACK came; or the call ended first (a BYE, no ACK at all, a hangup).
  accepted: ["confirmed", "terminated"],
  confirmed: ["terminated"],
  terminated: [],
};

export const CALL_STATES = Object.keys(CALL_TRANSITIONS) as CallState[];

const STATUS: Readonly<Record<CallState, CallStatus>> = {
  trying: "trying",
  early: "ringing",
  accepted: "answered",
  confirmed: "answered",
  terminated: "ended",
};

export class CallStateMachine {
  private current: CallState = "trying";

  constructor(private readonly log: Logger) {}

  get state(): CallState {
    return this.current;
  }

  get status(): CallStatus {
    return STATUS[this.current];
  }

  /** No device answered yet and the call is not over: it rings. */
  get ringing(): boolean {
    return this.current === "trying" || this.current === "early";
  }

  /** A device answered (whether or not the caller's ACK came) and the call is not over. */
  get answered(): boolean {
    return this.current === "accepted" || this.current === "confirmed";
  }

  get ended(): boolean {
    return this.current === "terminated";
  }

  /**
   * Move to `to` when the table allows it from the current state. Anything else (staying
   * put included) is refused and logged, never applied: the caller's code checked for it,
   * so a refused move is a bug to see in the log, not a state to drift into.
   */
  transition(to: CallState): boolean {
    const from = this.current;
    if (!CALL_TRANSITIONS[from].includes(to)) {
      this.log.error({ from, to }, "illegal call state transition refused");
      return false;
    }
    this.current = to;
    this.log.debug({ from, to }, "call state");
    return true;
  }
}
