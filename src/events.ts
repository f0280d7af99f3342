/**
 * GatewayEvents: every event the layers report upward, name → payload type, in one map
 * (zigbee2mqtt's EventBusMap). The PBX, trunk and DHCP emit; MQTT and the control socket
 * listen. A listener that throws is logged, never propagated to the emitter.
 */
import { EventEmitter } from "node:events";
import type { Logger } from "./log.js";
import type { CallRecord, MissedCalls } from "./gateway-api.js";

export type CallDirection = "internal" | "inbound" | "outbound";

/** One direction of a call's media as the relay counted it (RFC 3550 A.3 loss, A.8 jitter). */
export interface StreamQuality {
  /** RTP packets received from this side. */
  packets: number;
  lost: number;
  loss_pct: number;
  jitter_ms: number;
}

/** What each side sent, at call end: `caller` is the calling side's media, `callee` the answering side's. */
export interface CallQuality {
  caller: StreamQuality;
  callee: StreamQuality;
}

/**
 * Who ended an answered call: a BYE from the calling side, from the answering side, or the
 * gateway itself (a command, a media timeout, the call-length limit, a phone gone, shutdown).
 */
export type HangupBy = "caller" | "callee" | "gateway";

/** docs/design.md "Events" (`call`), published on `<base>/event` (docs/home-assistant.md). */
export interface CallEvent {
  type: "incoming" | "answered" | "missed" | "ended" | "outgoing" | "rejected";
  call_id: string;
  direction: CallDirection;
  from: string;
  to: string;
  /** Phonebook or extension names, filled in by the gateway. */
  from_name?: string;
  to_name?: string;
  extension?: string;
  duration_s?: number;
  reason?: string;
  /** `ended`: who hung up, set by the call that saw the BYE (or sent it). */
  hangup_by?: HangupBy;
  /** `ended`: the relay's counts, when the call's media went through the relay. */
  quality?: CallQuality;
  /** `answered`, `ended`: the answering machine took the call, not a phone. */
  answered_by?: "voicemail";
  at: string;
}

/**
 * A new message on the answering machine (`type: "voicemail"` on `<base>/event`): who left
 * it, how long, and where Home Assistant fetches it (`url`, with the message's own token).
 */
export interface VoicemailEvent {
  type: "voicemail";
  id: string;
  /** The call that left it: the `call_id` of its `call` events. */
  call_id: string;
  /** The caller's number ("" when withheld). */
  from: string;
  /** The phonebook's name for it, else the name the line gave. */
  name?: string;
  /** The line's number that was called. */
  to: string;
  duration_s: number;
  /** The WAV's file name in `state_dir/voicemail/`. */
  file: string;
  /** `http://…/voicemail/<id>.wav?token=…` on the LAN-side HTTP listener. */
  url: string;
  /** Why the message ended: the caller hung up, `#`, the length limit, or silence. */
  reason: "hangup" | "dtmf" | "max_length" | "silence";
  at: string;
}

/** The answering machine's box: messages not yet heard, all kept, and the newest. */
export interface VoicemailBox {
  new: number;
  total: number;
  last?: Omit<VoicemailEvent, "type" | "reason" | "to" | "call_id"> & { heard: boolean };
}

/** A call in progress, as `hikari-gw status` and MQTT show it (built by the PBX from the call's own facts). */
export interface ActiveCall {
  call_id: string;
  state: "trying" | "ringing" | "answered" | "ended";
  direction: CallDirection;
  from: string;
  to: string;
  extension?: string;
  since: string;
  /** Why it ended, once it has. */
  reason?: string;
  /** Who holds the call (RFC 3264 §8.4), while one side does. */
  on_hold?: "caller" | "callee";
  /** Live media per side (a: the caller, b: the callee): packets, loss, jitter, silent_ms, onHold. Absent without the relay. */
  media?: unknown;
}

export interface ExtensionState {
  number: string;
  registered: boolean;
  contact?: string;
  user_agent?: string;
  expires_at?: string;
}

export interface TrunkState {
  state: "disabled" | "acquiring" | "registering" | "registered" | "failed";
  number?: string;
  domain?: string;
  server?: string;
  expires_at?: string;
  last_error?: string;
}

/** One channel of the line (the NGN gives one, or two with the double-channel option). */
export interface LineState {
  /** 1-based. */
  channel: number;
  state: "idle" | "ringing" | "dialing" | "talking";
  call_id?: string;
  caller?: string;
  caller_name?: string;
  called?: string;
  called_name?: string;
  extension?: string;
  since: string;
}

export interface GatewayEventMap {
  call: [CallEvent];
  extension: [ExtensionState];
  trunk: [TrunkState];
  line: [LineState];
  /** The recent-calls list changed (a call finished). */
  calls: [CallRecord[]];
  missed: [MissedCalls];
  dnd: [boolean];
  /** A new message was recorded. */
  voicemail: [VoicemailEvent];
  /** The box changed (a new message, one heard, deleted or pruned). */
  voicemail_box: [VoicemailBox];
}

/** Every event name, checked against the map so a new event cannot be left out (`hikari-gw events` follows them all). */
const EVENT_NAMES: Record<keyof GatewayEventMap, true> = { call: true, extension: true, trunk: true, line: true, calls: true, missed: true, dnd: true, voicemail: true, voicemail_box: true };
export const gatewayEventNames = Object.keys(EVENT_NAMES) as (keyof GatewayEventMap)[];

export class GatewayEvents {
  private readonly emitter = new EventEmitter();

  constructor(private readonly log: Logger) {
    this.emitter.setMaxListeners(50);
  }

  emit<K extends keyof GatewayEventMap>(name: K, ...args: GatewayEventMap[K]): void {
    this.emitter.emit(name, ...args);
  }

  on<K extends keyof GatewayEventMap>(name: K, listener: (...args: GatewayEventMap[K]) => void): () => void {
    const wrapped = (...args: GatewayEventMap[K]) => {
      try {
        listener(...args);
      } catch (err) {
        this.log.error({ err, event: name }, "event listener failed");
      }
    };
    this.emitter.on(name, wrapped as (...a: unknown[]) => void);
    return () => this.emitter.off(name, wrapped as (...a: unknown[]) => void);
  }
}
