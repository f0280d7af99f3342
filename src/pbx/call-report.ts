/**
 * What a call tells the rest of the gateway about itself: its events (for MQTT and the log)
 * and its line in `hikari-gw status`, both built from the same facts.
 */
import type { ActiveCall, CallDirection, CallEvent } from "../events.js";
import type { CallStatus } from "./call-state.js";
import type { CallParty } from "./call-types.js";

/** The facts of a call a report is made of (the Call has them all). */
export interface CallFacts {
  readonly id: string;
  readonly direction: CallDirection;
  readonly caller: CallParty;
  readonly called: string;
  readonly extension: string | undefined;
  /** The answering machine took the call. */
  readonly answeredBy?: "voicemail";
  readonly startedAt: number;
  readonly answeredAt?: number;
  readonly status: CallStatus;
  /** The side that holds the call (RFC 3264 §8.4), while one does. */
  readonly holdBy: "a" | "b" | undefined;
}

/** A call event of `type`, stamped `at` (ms). */
export function callEvent(call: CallFacts, type: CallEvent["type"], at: number): CallEvent {
  const ev: CallEvent = {
    type,
    call_id: call.id,
    direction: call.direction,
    from: call.caller.number,
    to: call.called,
    extension: call.extension,
    at: new Date(at).toISOString(),
  };
  if (call.answeredBy) ev.answered_by = call.answeredBy;
  return ev;
}


/** The call's line in `hikari-gw status`; `endReason` once it ended; `media`: live figures per side. */
export function callSummary(call: CallFacts, endReason: string | undefined, media?: unknown): ActiveCall {
  return {
    call_id: call.id,
    state: call.status,
    direction: call.direction,
    from: call.caller.number,
    to: call.called,
    extension: call.extension,
    since: new Date(call.answeredAt ?? call.startedAt).toISOString(),
    on_hold: call.holdBy === "a" ? "caller" : call.holdBy === "b" ? "callee" : undefined,
    media,
    reason: endReason,
  };
}
