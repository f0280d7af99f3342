/**
 * Every topic the bridge uses, with its payload type, and `base_topic` / `discovery_prefix`
 * prefixed in one place (zigbee2mqtt's typed topic map).
 */
import type { CallEvent, LineState, TrunkState, VoicemailEvent } from "../events.js";
import type { CallRecord, ExtensionStatus } from "../gateway-api.js";

export type BridgeState = "online" | "offline";

export interface BridgeInfo {
  version: string;
  started_at: string;
  uptime_s: number;
  config: {
    trunk_enabled: boolean;
    channels: number;
    extensions: { number: string; name?: string }[];
    base_topic: string;
    discovery: boolean;
    calls_kept: number;
  };
}

export interface LinePayload {
  /** The busiest channel's state: talking, then ringing, then dialing, else idle. */
  state: LineState["state"];
  channels: LineState[];
}

export interface CallsPayload {
  calls: CallRecord[];
}

/** Flat, so Home Assistant templates need no guards: null when there is none. */
export interface MissedPayload {
  count: number;
  since: string;
  last_from: string | null;
  last_from_name: string | null;
  last_at: string | null;
}

export interface LastCallerPayload {
  number: string;
  name: string | null;
  at: string;
  call_id: string;
}

/** `<base>/event`: a call event; `event_type` repeats `type` for Home Assistant's event entity. */
export type EventPayload = (CallEvent & { event_type: CallEvent["type"] }) | QualityEventPayload | (VoicemailEvent & { event_type: "voicemail" });

/**
 * `<base>/voicemail` (retained): the answering machine's box, flat for Home Assistant
 * templates (null when there is no message): `new` is the "new messages" count.
 */
export interface VoicemailPayload {
  new: number;
  total: number;
  last_id: string | null;
  last_from: string | null;
  last_name: string | null;
  last_duration_s: number | null;
  last_at: string | null;
  last_url: string | null;
  last_heard: boolean | null;
}

export interface QualityEventPayload {
  type: "quality";
  event_type: "quality";
  call_id: string;
  direction: CallEvent["direction"];
  from: string;
  to: string;
  extension?: string;
  caller: NonNullable<CallEvent["quality"]>["caller"];
  callee: NonNullable<CallEvent["quality"]>["callee"];
  at: string;
}

export interface ResponsePayload {
  status: "ok" | "error";
  data?: unknown;
  error?: string;
  transaction?: string | number;
}

/** Retained state topics and their payloads. */
export interface RetainedTopics {
  "bridge/state": BridgeState;
  "bridge/info": BridgeInfo;
  trunk: TrunkState;
  line: LinePayload;
  extensions: { registered: number; total: number; numbers: string[] };
  calls: CallsPayload;
  missed: MissedPayload;
  last_caller: LastCallerPayload;
  dnd: { dnd: boolean };
  quality: QualityEventPayload;
  voicemail: VoicemailPayload;
}

export class Topics {
  constructor(
    readonly base: string,
    readonly discoveryPrefix: string,
  ) {}

  retained<K extends keyof RetainedTopics>(k: K): string {
    return `${this.base}/${k}`;
  }

  extension(number: string): string {
    return `${this.base}/extensions/${number}`;
  }

  get event(): string {
    return `${this.base}/event`;
  }

  get requestFilter(): string {
    return `${this.base}/bridge/request/+`;
  }

  request(command: string): string {
    return `${this.base}/bridge/request/${command}`;
  }

  response(command: string): string {
    return `${this.base}/bridge/response/${command}`;
  }

  /** The command name of a request topic, or undefined when `topic` is not one. */
  commandOf(topic: string): string | undefined {
    const prefix = `${this.base}/bridge/request/`;
    return topic.startsWith(prefix) ? topic.slice(prefix.length) : undefined;
  }

  get haStatus(): string {
    return `${this.discoveryPrefix}/status`;
  }

  /** `<prefix>/<component>/<node>/<object>/config` (node and object: [a-zA-Z0-9_-] only). */
  discovery(component: string, node: string, object: string): string {
    return `${this.discoveryPrefix}/${component}/${node}/${object}/config`;
  }

  /** Every discovery config of this node, to find stale ones left from an older config. */
  discoveryFilter(node: string): string {
    return `${this.discoveryPrefix}/+/${node}/+/config`;
  }
}

/** Discovery ids allow only [a-zA-Z0-9_-]. */
export const discoveryId = (s: string): string => s.replace(/[^a-zA-Z0-9_-]/g, "_");
