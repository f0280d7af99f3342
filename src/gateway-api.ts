/**
 * What the gateway offers the layers that report and steer it (MQTT, the control socket):
 * a typed status snapshot and the commands. Those layers see these types and GatewayEvents,
 * never the PBX, trunk or SIP objects behind them.
 */
import type { ActiveCall, CallDirection, ExtensionState, LineState, TrunkState, VoicemailBox } from "./events.js";

export type { ActiveCall } from "./events.js";
import type { ProcessStats } from "./process-stats.js";

/** How a finished call went, from the household's point of view. */
export type CallResult = "answered" | "missed" | "rejected" | "busy" | "failed" | "voicemail";

/** One entry of the recent-calls list (`<base>/calls`, `hikari-gw calls`). */
export interface CallRecord {
  call_id: string;
  direction: CallDirection;
  from: string;
  from_name?: string;
  to: string;
  to_name?: string;
  extension?: string;
  /** ISO 8601: when it started ringing. */
  start: string;
  /** Talk time; 0 when never answered. */
  duration_s: number;
  result: CallResult;
  reason?: string;
}


export interface ExtensionStatus extends ExtensionState {
  name?: string;
}

export interface MissedCalls {
  /** Inbound calls nobody answered since the last reset. */
  count: number;
  /** ISO 8601 of the last reset (or first start). */
  since: string;
  last?: { from: string; from_name?: string; at: string };
}

export interface GatewayStatus {
  version: string;
  started_at: string;
  uptime_s: number;
  trunk: TrunkState;
  line: LineState[];
  extensions: ExtensionStatus[];
  calls: ActiveCall[];
  recent_calls: CallRecord[];
  missed: MissedCalls;
  dnd: boolean;
  /** The answering machine's box, when `voicemail.enabled`. */
  voicemail?: VoicemailBox;
  media?: { sessions: number };
  /** The built-in WireGuard: the gateway's tunnel address and each phone's last handshake (null: never). */
  vpn?: { address: string; peers: { name: string; extension: string; address?: string; last_handshake: string | null }[] };
  /** The process's memory and open handles (`hikari-gw status --gc` collects garbage first). */
  process?: ProcessStats;
  /** Datagrams dropped (outside lan.allow, malformed, bad Via) or failed to send, per listener. */
  sip?: { lan?: Readonly<Record<string, number>>; trunk?: Readonly<Record<string, number>> };
  /** The bounds on what grows with traffic (config `limits:`): table sizes now and requests refused with 503. */
  limits?: Readonly<Record<string, number | undefined>>;
}

/** Thrown by a command for bad arguments: the caller shows the message, nothing was changed. */
export class CommandError extends Error {}

/** The actions MQTT and the control socket may take. Each either completes or throws before changing anything. */
export interface GatewayCommands {
  /** Do-not-disturb: inbound line calls get 486 and count as missed. Persisted in state_dir. */
  setDnd(on: boolean): void;
  /** Hang up one call by its call id, or every call. Returns how many; CommandError when the id is unknown. */
  hangup(callId: string | "all"): number;
  /** Set the missed-call count back to 0. */
  resetMissed(): void;
  /**
   * Mark every voicemail message heard (the "new messages" count goes to 0): returns how many
   * were new. CommandError when the answering machine is off.
   */
  voicemailHeard?(): number;
  /**
   * Click-to-dial: ring `extension` (default: mqtt.dial_extension, else the only extension),
   * and once it answers call `number` as that extension would have dialled it. Returns at
   * once with the call's id; CommandError when nothing could start (unknown or unregistered
   * extension, a number the dialplan or the toll rules refuse, the trunk down or busy).
   */
  dial(req: DialRequest): DialResult;
}

export interface DialRequest {
  number: string;
  extension?: string;
}

export interface DialResult {
  call_id: string;
  extension: string;
  number: string;
}
