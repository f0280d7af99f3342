/**
 * The shapes around a RelaySession: what SDP tells it, what it reports, what it emits and what
 * it needs from its owner (the relay), kept apart so relay-session.ts holds only the machine.
 */
import type { SentReport, StreamReport } from "./stats.js";
import type { RelaySession } from "./relay-session.js";

export type RelaySide = "a" | "b";

export interface ExpectedPeer {
  address: string;
  rtpPort: number;
  /** Default rtpPort + 1 (RFC 3550 §11). */
  rtcpPort?: number;
}

export interface SidePorts {
  /** The gateway's even RTP port this side's phone sends to. */
  readonly rtpPort: number;
  readonly rtcpPort: number;
}

export interface PeerReport {
  address: string;
  rtpPort: number;
  rtcpPort: number;
}

export interface SideReport {
  rtpPort: number;
  rtcpPort: number;
  /** Where this side's media goes: the latched source, else the SDP address; null if neither. */
  peer: PeerReport | null;
  latched: boolean;
  onHold: boolean;
  /** From this side's phone (received on this side's ports). */
  rx: StreamReport;
  /** To this side's phone (forwarded from the other side). */
  tx: SentReport;
}

export interface RelayStats {
  tag: string;
  a: SideReport;
  b: SideReport;
  offloaded: boolean;
  durationMs: number;
}

export interface RelaySessionEvents {
  /**
   * `side`'s phone sent no RTP nor RTCP for mediaTimeoutMs while neither side was on hold:
   * it vanished (Wi-Fi lost, crashed), even if the other side keeps sending. Once per silent
   * spell per side.
   */
  timeout: [session: RelaySession, side: RelaySide];
}

/** What a session needs from the relay that owns it: a narrow interface, not the relay. */
export interface RelaySessionOwner {
  readonly clock: { now(): number };
  /** Monotonic milliseconds with sub-ms resolution, for jitter. */
  readonly hrNow: () => number;
  /** connect() a socket to its peer once latched for good (see connectLatched). */
  readonly connectLatched: boolean;
  /**
   * Called (slow path) when a packet latched a source provisionally: the owner's tick calls
   * confirmLatches() until no latch of the session is provisional.
   */
  provisional(session: RelaySession): void;
  /** Called (slow path) when every RTP latch is final: the offload may take the session. */
  bothLatched(session: RelaySession): void;
  /**
   * Called when a latch moved (new SDP peer, relearn) after `latchEpoch` was bumped: kernel
   * flows for the old latches must go before the new ones are learned.
   */
  unlatched(session: RelaySession, reason: string): void;
  /** Called once by release(): close sockets, free ports (after any offload rules are gone). */
  released(session: RelaySession, reason: string): void;
  /**
   * A socket of `side` reported an error (already counted in the session's stats). The owner
   * logs it, rate-limited across all its sessions: a flood of errors is not a flood of lines.
   */
  socketError(session: RelaySession, side: RelaySide, err: NodeJS.ErrnoException): void;
}
