/**
 * The recent-calls list: each call's events folded into one record when it finishes
 * (newest first, `keep` of them), with the household's view of how it went.
 */
import type { CallEvent } from "./events.js";
import type { CallRecord, CallResult } from "./gateway-api.js";

/** Events that finish a call. */
/** Results the household counts as missed calls: nobody picked up (the answering machine may have). */
export const countsAsMissed = (result: CallResult): boolean => result === "missed" || result === "voicemail";

export const isFinal = (ev: CallEvent): boolean => ev.type === "ended" || ev.type === "missed" || ev.type === "rejected";

/**
 * An answered call is `answered`, unless the answering machine took it: `voicemail` (still a
 * missed call for the household, counted as one). Inbound: a declined call (486/603 from every phone, or the
 * blocklist) is `rejected`, anything else unanswered `missed`. Outbound and internal: the
 * far end's 486/600 is `busy`, 603 `rejected`, another final status `failed`, and a call
 * given up while ringing (no answer, cancelled) `missed`.
 */
export function callResult(ev: CallEvent): CallResult {
  if (ev.type === "ended") return ev.answered_by === "voicemail" ? "voicemail" : "answered";
  const status = /^(\d{3}) /.exec(ev.reason ?? "")?.[1];
  if (ev.direction === "inbound") return ev.type === "rejected" ? "rejected" : "missed";
  if (status === "486" || status === "600") return "busy";
  if (status === "603") return "rejected";
  if (ev.type === "rejected" || status) return "failed";
  return "missed";
}

/** Calls that started but have not finished are few (the line's channels, the phones); bound them anyway. */
const MAX_OPEN = 256;

export class CallLog {
  private readonly open = new Map<string, string>();
  private readonly records: CallRecord[] = [];

  constructor(private readonly keep: number) {}

  /** Feed every call event; returns the new record when `ev` finished a call. */
  add(ev: CallEvent): CallRecord | undefined {
    if (ev.type === "incoming" || ev.type === "outgoing") {
      if (this.open.size >= MAX_OPEN) this.open.delete(this.open.keys().next().value!);
      this.open.set(ev.call_id, ev.at);
      return undefined;
    }
    if (!isFinal(ev)) return undefined;
    const start = this.open.get(ev.call_id) ?? ev.at;
    this.open.delete(ev.call_id);
    const rec: CallRecord = {
      call_id: ev.call_id,
      direction: ev.direction,
      from: ev.from,
      from_name: ev.from_name,
      to: ev.to,
      to_name: ev.to_name,
      extension: ev.extension,
      start,
      duration_s: ev.duration_s ?? 0,
      result: callResult(ev),
      reason: ev.reason,
    };
    this.records.unshift(rec);
    if (this.records.length > this.keep) this.records.length = this.keep;
    return rec;
  }

  list(): CallRecord[] {
    return [...this.records];
  }
}
