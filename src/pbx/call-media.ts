/**
 * What a call needs from media: turn each side's SDP into what the other side receives.
 * With the relay, both sides are pointed at the gateway's ports; without it (relay not
 * available, or tests), SDP passes through unchanged. Side "a" is the caller's leg.
 */
import type { CallQuality } from "../events.js";

export type CallSide = "a" | "b";

export interface CallMedia {
  /**
   * An SDP body from `from` (offer or answer), rewritten for the other side, naming
   * `advertise` (our address as the other side reaches it) as where to send media.
   */
  fromSide(from: CallSide, sdp: string, advertise: string): string;
  /** Called once when the call ends; frees ports. Returns final stats for the log, if any. */
  release(reason: string): unknown;
  /** After release: what each side sent (the `quality` of the call's end event), when media was relayed. */
  quality?(): CallQuality | undefined;
  /**
   * `side`'s phone moved without new SDP (binding-moved: its signalling now comes from another
   * NAT mapping): forget where its media came from and learn it again from its next packets.
   */
  peerMoved?(side: CallSide): void;
  /**
   * Live figures for `hikari-gw status` while the call is up: per side, packets, loss,
   * jitter, hold, and how long it has been silent. Undefined without a relay or once released.
   */
  live?(): unknown;
  /** Registered by the call: fired when a side (not on hold) sent no RTP or RTCP for the timeout. */
  onTimeout?: (side?: CallSide) => void;
  /**
   * An SDP offer of the gateway's own toward `side` (click-to-dial: the gateway calls the
   * extension first, so the first offer is ours, not a phone's), naming `advertise` and the
   * gateway's ports for that side. Absent without a relay: there are no ports of ours to offer.
   */
  offer?(side: CallSide, advertise: string): string;
}

export interface CallMediaFactory {
  create(callId: string): Promise<CallMedia>;
}

/** SDP passes through unchanged: phones send media to each other directly. */
export const passThroughMedia: CallMediaFactory = {
  create: async () => ({ fromSide: (_from, sdp) => sdp, release: () => undefined }),
};
