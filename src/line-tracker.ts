/**
 * The line's channels as the household sees them (the FRITZ!Box call monitor's idle /
 * ringing / dialing / talking), one state per channel so a second call never overwrites
 * the first. Derived from call events: only calls over the trunk (inbound, outbound) take
 * a channel; calls between extensions do not.
 */
import type { CallEvent, LineState } from "./events.js";
import { isFinal } from "./call-log.js";

export class LineTracker {
  private readonly channels: LineState[];
  private readonly byCall = new Map<string, number>();

  constructor(channels: number, since: string) {
    this.channels = Array.from({ length: channels }, (_, i) => ({ channel: i + 1, state: "idle" as const, since }));
  }

  states(): LineState[] {
    return this.channels.map((c) => ({ ...c }));
  }

  /** Feed a call event; returns the channel state it changed, if any. */
  onCall(ev: CallEvent): LineState | undefined {
    if (ev.direction === "internal") return undefined;
    const idx = this.byCall.get(ev.call_id);
    if (ev.type === "incoming" || ev.type === "outgoing") {
      if (idx !== undefined) return undefined;
      const free = this.channels.findIndex((c) => c.state === "idle");
      if (free < 0) return undefined; // the trunk admits no more calls than channels; nothing to show
      this.byCall.set(ev.call_id, free);
      const inbound = ev.type === "incoming";
      return this.set(free, {
        state: inbound ? "ringing" : "dialing",
        call_id: ev.call_id,
        caller: ev.from,
        caller_name: ev.from_name,
        called: ev.to,
        called_name: ev.to_name,
        extension: inbound ? undefined : ev.extension,
        since: ev.at,
      });
    }
    if (idx === undefined) return undefined;
    if (ev.type === "answered") return this.set(idx, { ...this.channels[idx]!, state: "talking", extension: ev.extension ?? this.channels[idx]!.extension, since: ev.at });
    if (isFinal(ev)) {
      this.byCall.delete(ev.call_id);
      return this.set(idx, { state: "idle", since: ev.at });
    }
    return undefined;
  }

  private set(idx: number, s: Omit<LineState, "channel">): LineState {
    const next: LineState = { channel: idx + 1, ...s };
    for (const k of Object.keys(next) as (keyof LineState)[]) if (next[k] === undefined) delete next[k];
    this.channels[idx] = next;
    return { ...next };
  }
}
