/**
 * The INVITE server transaction machine (RFC 3261 §17.2.1, Figure 7) with RFC 6026
 * §7.1's "Accepted" state: after a 2xx the transaction stays for Timer L (64·T1) so a
 * retransmitted INVITE is absorbed instead of looking like a new call. Timers G, H, I, L,
 * ACKs and transport errors are inputs. I/O: invite-server.ts.
 */
import type { SipRequest, SipResponse } from "../message/types.js";
import type { TimerDurations } from "./timer-values.js";

export type InviteServerState = "proceeding" | "completed" | "confirmed" | "accepted" | "terminated";
export type InviteServerTimer = "G" | "H" | "I" | "L";

export type InviteServerInput =
  /** A retransmission of the INVITE. */
  | { kind: "request" }
  | { kind: "ack"; ack: SipRequest }
  | { kind: "tuResponse"; res: SipResponse }
  | { kind: "timer"; timer: InviteServerTimer }
  | { kind: "transportError"; err: Error };

export interface InviteServerMachine {
  readonly state: InviteServerState;
  readonly durations: TimerDurations;
  /** Current Timer G interval. */
  intervalG: number;
  transition(to: InviteServerState): void;
  startTimer(t: InviteServerTimer, ms: number): void;
  stopTimer(t: InviteServerTimer): void;
  /** Serialize, remember as the last response, send. */
  sendResponse(res: SipResponse): void;
  resendLastResponse(): void;
  /** The ACK for our 300–699 arrived. */
  ackToTU(ack: SipRequest): void;
  /** Timer H: the ACK for our 300–699 never came. */
  noAckToTU(): void;
  transportErrorToTU(err: Error): void;
  /** A response the TU may not send in this state (logged, dropped). */
  refused(res: SipResponse): void;
}

export function inviteServerInput(m: InviteServerMachine, input: InviteServerInput): void {
  switch (m.state) {
    case "proceeding":
      return proceeding(m, input);
    case "completed":
      return completed(m, input);
    case "confirmed":
      // §17.2.1: absorb further ACKs until Timer I.
      if (input.kind === "timer" && input.timer === "I") m.transition("terminated");
      else if (input.kind === "tuResponse") m.refused(input.res);
      return;
    case "accepted":
      return accepted(m, input);
    case "terminated":
      if (input.kind === "tuResponse") m.refused(input.res);
      return;
  }
}

function proceeding(m: InviteServerMachine, input: InviteServerInput): void {
  switch (input.kind) {
    case "request":
      // §17.2.1: a retransmitted INVITE gets the most recent provisional again.
      m.resendLastResponse();
      return;
    case "tuResponse": {
      const { res } = input;
      if (res.status < 200) {
        m.sendResponse(res);
      } else if (res.status < 300) {
        m.transition("accepted");
        m.startTimer("L", m.durations.l);
        m.sendResponse(res);
      } else {
        m.transition("completed");
        m.intervalG = m.durations.g;
        m.startTimer("G", m.intervalG);
        m.startTimer("H", m.durations.h);
        m.sendResponse(res);
      }
      return;
    }
    case "transportError":
      m.transition("terminated");
      m.transportErrorToTU(input.err);
      return;
    default:
      return;
  }
}

function completed(m: InviteServerMachine, input: InviteServerInput): void {
  switch (input.kind) {
    case "request":
      m.resendLastResponse();
      return;
    case "ack":
      m.stopTimer("G");
      m.stopTimer("H");
      m.transition("confirmed");
      m.startTimer("I", m.durations.i);
      m.ackToTU(input.ack);
      return;
    case "timer":
      if (input.timer === "G") {
        m.resendLastResponse();
        m.intervalG = Math.min(2 * m.intervalG, m.durations.t2);
        m.startTimer("G", m.intervalG);
      } else if (input.timer === "H") {
        m.stopTimer("G");
        m.transition("terminated");
        m.noAckToTU();
      }
      return;
    case "transportError":
      m.stopTimer("G");
      m.stopTimer("H");
      m.transition("terminated");
      m.transportErrorToTU(input.err);
      return;
    case "tuResponse":
      m.refused(input.res);
      return;
  }
}

function accepted(m: InviteServerMachine, input: InviteServerInput): void {
  switch (input.kind) {
    case "tuResponse":
      // RFC 6026 §7.1: the TU's 2xx (retransmissions, or more 2xx) go out; nothing else.
      if (input.res.status >= 200 && input.res.status < 300) m.sendResponse(input.res);
      else m.refused(input.res);
      return;
    case "timer":
      if (input.timer === "L") m.transition("terminated");
      return;
    case "transportError":
      m.transportErrorToTU(input.err);
      return;
    default:
      // A retransmitted INVITE is absorbed; an ACK is the TU's (the layer hands it up).
      return;
  }
}
