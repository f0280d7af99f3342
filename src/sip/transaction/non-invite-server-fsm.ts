/**
 * The non-INVITE server transaction machine (RFC 3261 §17.2.2, Figure 8). Timer J and
 * transport errors are inputs. I/O: non-invite-server.ts.
 */
import type { SipResponse } from "../message/types.js";
import type { TimerDurations } from "./timer-values.js";

export type NonInviteServerState = "trying" | "proceeding" | "completed" | "terminated";
export type NonInviteServerTimer = "J";

export type NonInviteServerInput =
  | { kind: "request" }
  | { kind: "tuResponse"; res: SipResponse }
  | { kind: "timer"; timer: NonInviteServerTimer }
  | { kind: "transportError"; err: Error };

export interface NonInviteServerMachine {
  readonly state: NonInviteServerState;
  readonly durations: TimerDurations;
  transition(to: NonInviteServerState): void;
  startTimer(t: NonInviteServerTimer, ms: number): void;
  sendResponse(res: SipResponse): void;
  resendLastResponse(): void;
  transportErrorToTU(err: Error): void;
  refused(res: SipResponse): void;
}

export function nonInviteServerInput(m: NonInviteServerMachine, input: NonInviteServerInput): void {
  const s = m.state;
  if (s === "terminated") {
    if (input.kind === "tuResponse") m.refused(input.res);
    return;
  }
  switch (input.kind) {
    case "request":
      // §17.2.2: Trying absorbs retransmissions; later states resend the last response.
      if (s !== "trying") m.resendLastResponse();
      return;
    case "tuResponse": {
      if (s === "completed") return m.refused(input.res);
      if (input.res.status < 200) {
        if (s === "trying") m.transition("proceeding");
        m.sendResponse(input.res);
        return;
      }
      m.transition("completed");
      // Timer J: 64·T1 on UDP, to answer request retransmissions from the final response.
      m.startTimer("J", m.durations.j);
      m.sendResponse(input.res);
      return;
    }
    case "timer":
      if (s === "completed" && input.timer === "J") m.transition("terminated");
      return;
    case "transportError":
      m.transition("terminated");
      m.transportErrorToTU(input.err);
      return;
  }
}
