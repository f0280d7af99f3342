/**
 * The non-INVITE client transaction machine (RFC 3261 §17.1.2, Figure 6). One function
 * per state; timers E, F, K and transport errors are inputs. I/O: non-invite-client.ts.
 */
import type { SipResponse } from "../message/types.js";
import type { TimerDurations } from "./timer-values.js";

export type NonInviteClientState = "trying" | "proceeding" | "completed" | "terminated";
export type NonInviteClientTimer = "E" | "F" | "K";

export type NonInviteClientInput =
  | { kind: "response"; res: SipResponse }
  | { kind: "timer"; timer: NonInviteClientTimer }
  | { kind: "transportError"; err: Error };

export interface NonInviteClientMachine {
  readonly state: NonInviteClientState;
  readonly durations: TimerDurations;
  /** Current Timer E interval. */
  intervalE: number;
  transition(to: NonInviteClientState): void;
  startTimer(t: NonInviteClientTimer, ms: number): void;
  stopTimer(t: NonInviteClientTimer): void;
  retransmitRequest(): void;
  passToTU(res: SipResponse): void;
  timeoutToTU(): void;
  transportErrorToTU(err: Error): void;
}

/** Entering Trying: the request has just been sent. Unreliable transport: E and F. */
export function nonInviteClientStart(m: NonInviteClientMachine): void {
  m.intervalE = m.durations.e;
  m.startTimer("E", m.intervalE);
  m.startTimer("F", m.durations.f);
}

export function nonInviteClientInput(m: NonInviteClientMachine, input: NonInviteClientInput): void {
  switch (m.state) {
    case "trying":
    case "proceeding":
      return tryingOrProceeding(m, input);
    case "completed":
      // §17.1.2.2: response retransmissions are absorbed until K.
      if (input.kind === "timer" && input.timer === "K") m.transition("terminated");
      return;
    case "terminated":
      return;
  }
}

/** Trying and Proceeding differ only in E's next interval and in how a 1xx moves them. */
function tryingOrProceeding(m: NonInviteClientMachine, input: NonInviteClientInput): void {
  switch (input.kind) {
    case "timer":
      if (input.timer === "E") {
        m.retransmitRequest();
        // §17.1.2.2: doubling up to T2 in Trying; a flat T2 once a provisional came.
        m.intervalE = m.state === "trying" ? Math.min(2 * m.intervalE, m.durations.t2) : m.durations.t2;
        m.startTimer("E", m.intervalE);
      } else if (input.timer === "F") {
        m.stopTimer("E");
        m.transition("terminated");
        m.timeoutToTU();
      }
      return;
    case "transportError":
      m.stopTimer("E");
      m.stopTimer("F");
      m.transition("terminated");
      m.transportErrorToTU(input.err);
      return;
    case "response":
      if (input.res.status < 200) {
        if (m.state === "trying") m.transition("proceeding");
        m.passToTU(input.res);
        return;
      }
      m.stopTimer("E");
      m.stopTimer("F");
      m.transition("completed");
      m.startTimer("K", m.durations.k);
      m.passToTU(input.res);
      return;
  }
}
