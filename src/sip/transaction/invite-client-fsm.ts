/**
 * The INVITE client transaction machine (RFC 3261 §17.1.1, Figure 5) with the RFC 6026
 * §7.2 "Accepted" state. One function per state; timers and transport errors are inputs
 * like responses. The I/O half lives in invite-client.ts, which implements the Machine.
 */
import type { SipResponse } from "../message/types.js";
import type { TimerDurations } from "./timer-values.js";

export type InviteClientState = "calling" | "proceeding" | "completed" | "accepted" | "terminated";
export type InviteClientTimer = "A" | "B" | "D" | "M";

export type InviteClientInput =
  | { kind: "response"; res: SipResponse }
  | { kind: "timer"; timer: InviteClientTimer }
  | { kind: "transportError"; err: Error };

export interface InviteClientMachine {
  readonly state: InviteClientState;
  readonly durations: TimerDurations;
  /** Current Timer A interval (doubles on every firing, §17.1.1.2). */
  intervalA: number;
  transition(to: InviteClientState): void;
  startTimer(t: InviteClientTimer, ms: number): void;
  stopTimer(t: InviteClientTimer): void;
  retransmitRequest(): void;
  /** §17.1.1.3: build (once) and send the ACK for a 300–699 response. */
  sendAck(res: SipResponse): void;
  passToTU(res: SipResponse): void;
  timeoutToTU(): void;
  transportErrorToTU(err: Error): void;
}

/** Entering Calling: the INVITE has just been sent. Unreliable transport: A and B. */
export function inviteClientStart(m: InviteClientMachine): void {
  m.intervalA = m.durations.a;
  m.startTimer("A", m.intervalA);
  m.startTimer("B", m.durations.b);
}

export function inviteClientInput(m: InviteClientMachine, input: InviteClientInput): void {
  switch (m.state) {
    case "calling":
      return calling(m, input);
    case "proceeding":
      return proceeding(m, input);
    case "completed":
      return completed(m, input);
    case "accepted":
      return accepted(m, input);
    case "terminated":
      return;
  }
}

function calling(m: InviteClientMachine, input: InviteClientInput): void {
  if (input.kind === "timer") {
    if (input.timer === "A") {
      // §17.1.1.2: retransmit, then double A (no T2 cap for INVITE requests).
      m.retransmitRequest();
      m.intervalA *= 2;
      m.startTimer("A", m.intervalA);
    } else if (input.timer === "B") {
      m.transition("terminated");
      m.timeoutToTU();
    }
    return;
  }
  if (input.kind === "transportError") {
    m.transition("terminated");
    m.transportErrorToTU(input.err);
    return;
  }
  m.stopTimer("A");
  m.stopTimer("B");
  // Leaving Calling: the same handling as Proceeding from here on.
  if (input.res.status < 200) {
    m.transition("proceeding");
    m.passToTU(input.res);
  } else proceeding(m, input);
}

function proceeding(m: InviteClientMachine, input: InviteClientInput): void {
  if (input.kind === "timer") return;
  if (input.kind === "transportError") {
    m.transition("terminated");
    m.transportErrorToTU(input.err);
    return;
  }
  const { res } = input;
  if (res.status < 200) {
    m.passToTU(res);
  } else if (res.status < 300) {
    // RFC 6026 §7.2: stay to pass 2xx retransmissions and forked 2xx up for 64·T1.
    m.transition("accepted");
    m.startTimer("M", m.durations.m);
    m.passToTU(res);
  } else {
    m.transition("completed");
    m.startTimer("D", m.durations.d);
    m.sendAck(res);
    m.passToTU(res);
  }
}

function completed(m: InviteClientMachine, input: InviteClientInput): void {
  if (input.kind === "timer") {
    if (input.timer === "D") m.transition("terminated");
    return;
  }
  if (input.kind === "transportError") {
    m.transition("terminated");
    return;
  }
  // §17.1.1.2: retransmitted final responses are ACKed again, not passed up.
  if (input.res.status >= 300) m.sendAck(input.res);
}

function accepted(m: InviteClientMachine, input: InviteClientInput): void {
  if (input.kind === "timer") {
    if (input.timer === "M") m.transition("terminated");
    return;
  }
  if (input.kind === "response" && input.res.status >= 200 && input.res.status < 300) m.passToTU(input.res);
}
