/**
 * Payloads built from the gateway's status and events: pure functions, so tests check
 * exactly what a subscriber receives.
 */
import type { CallEvent, LineState, VoicemailBox } from "../events.js";
import type { GatewayStatus, MissedCalls } from "../gateway-api.js";
import type { BridgeInfo, EventPayload, LastCallerPayload, LinePayload, MissedPayload, QualityEventPayload, VoicemailPayload } from "./topics.js";

export interface InfoSettings {
  trunkEnabled: boolean;
  channels: number;
  baseTopic: string;
  discovery: boolean;
  callsKept: number;
}

/** Version, uptime and a config summary without secrets (no passwords, no broker credentials). */
export function bridgeInfo(status: GatewayStatus, s: InfoSettings): BridgeInfo {
  return {
    version: status.version,
    started_at: status.started_at,
    uptime_s: status.uptime_s,
    config: {
      trunk_enabled: s.trunkEnabled,
      channels: s.channels,
      extensions: status.extensions.map((e) => (e.name === undefined ? { number: e.number } : { number: e.number, name: e.name })),
      base_topic: s.baseTopic,
      discovery: s.discovery,
      calls_kept: s.callsKept,
    },
  };
}

const BUSY: LineState["state"][] = ["talking", "ringing", "dialing"];

export function linePayload(channels: LineState[]): LinePayload {
  const state = BUSY.find((b) => channels.some((c) => c.state === b)) ?? "idle";
  return { state, channels };
}

export function missedPayload(m: MissedCalls): MissedPayload {
  return { count: m.count, since: m.since, last_from: m.last?.from ?? null, last_from_name: m.last?.from_name ?? null, last_at: m.last?.at ?? null };
}

export function lastCaller(ev: CallEvent): LastCallerPayload {
  return { number: ev.from, name: ev.from_name ?? null, at: ev.at, call_id: ev.call_id };
}

/** A call event as published, and for an ended call with relayed media its `quality` event after it. */
export function eventPayloads(ev: CallEvent): EventPayload[] {
  const out: EventPayload[] = [{ ...ev, event_type: ev.type }];
  const q = qualityEvent(ev);
  if (q) out.push(q);
  return out;
}

export function qualityEvent(ev: CallEvent): QualityEventPayload | undefined {
  if (ev.type !== "ended" || !ev.quality) return undefined;
  const q: QualityEventPayload = { type: "quality", event_type: "quality", call_id: ev.call_id, direction: ev.direction, from: ev.from, to: ev.to, caller: ev.quality.caller, callee: ev.quality.callee, at: ev.at };
  if (ev.extension !== undefined) q.extension = ev.extension;
  return q;
}

export function voicemailPayload(box: VoicemailBox): VoicemailPayload {
  const l = box.last;
  return {
    new: box.new,
    total: box.total,
    last_id: l?.id ?? null,
    last_from: l ? l.from : null,
    last_name: l?.name ?? null,
    last_duration_s: l?.duration_s ?? null,
    last_at: l?.at ?? null,
    last_url: l?.url ?? null,
    last_heard: l?.heard ?? null,
  };
}
