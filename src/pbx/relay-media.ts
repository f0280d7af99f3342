/**
 * CallMedia over the relay: each side's SDP is pointed at the gateway's ports for the other
 * side, and what a side offers or answers tells the relay where that side's media will come
 * from (latching expectation) and whether it is on hold.
 */
import type { MediaRelay } from "../media/relay.js";
import type { RelaySession, SidePorts } from "../media/relay-session.js";
import type { RelayStats, SideReport } from "../media/relay-session-types.js";
import type { CallQuality, StreamQuality } from "../events.js";
import { rewriteSdp } from "../media/sdp.js";
import { mediaTargetOf } from "./sdp-target.js";
import { gatewayOffer } from "./gateway-offer.js";
import type { CallMedia, CallMediaFactory, CallSide } from "./call-media.js";

export function relayMediaFactory(relay: MediaRelay): CallMediaFactory {
  return {
    async create(callId: string): Promise<CallMedia> {
      const session = await relay.allocate(callId);
      return new RelayCallMedia(session);
    },
  };
}

class RelayCallMedia implements CallMedia {
  /** `side` is the leg whose phone went silent (the relay's timeout is per side). */
  onTimeout?: (side?: CallSide) => void;
  /**
   * Dropped at release: an ended call stays reachable for 64*T1 (its dialogs and
   * transactions linger for retransmissions), and its closed sockets, latches and stats
   * must not stay with it (at hundreds of calls per second they fill the heap).
   */
  private session: RelaySession | undefined;
  /** The gateway's ports per side, kept for SDP after release (late retransmissions). */
  private readonly ports: { a: SidePorts; b: SidePorts };

  constructor(session: RelaySession) {
    this.session = session;
    this.ports = { a: session.a, b: session.b };
    session.on("timeout", (_s, side) => this.onTimeout?.(side));
  }

  fromSide(from: CallSide, sdp: string, advertise: string): string {
    const target = mediaTargetOf(sdp);
    const session = this.session;
    if (target && session) {
      if (!target.hold) session.setExpectedPeer(from, { address: target.address, rtpPort: target.rtpPort, rtcpPort: target.rtcpPort });
      session.hold(from, target.hold);
    }
    // The other side sends to the gateway's ports of its own side.
    const other = from === "a" ? this.ports.b : this.ports.a;
    return rewriteSdp(sdp, { address: advertise, rtpPort: other.rtpPort, rtcpPort: other.rtcpPort });
  }

  offer(side: CallSide, advertise: string): string {
    const p = this.ports[side];
    return gatewayOffer(advertise, p.rtpPort, p.rtcpPort);
  }

  live(): unknown {
    const session = this.session;
    if (!session) return undefined;
    const st = session.stats();
    // silent_ms: how long since that side's last RTP or RTCP (who is silent, before the media timeout says so).
    return { a: { ...st.a, silent_ms: session.silentMs("a") }, b: { ...st.b, silent_ms: session.silentMs("b") }, offloaded: st.offloaded };
  }

  peerMoved(side: CallSide): void {
    this.session?.relearn(side);
  }

  release(reason: string): unknown {
    const session = this.session;
    if (!session) return undefined;
    this.session = undefined;
    // The call logs these figures in its "call ended" line: once, not twice.
    this.finalStats = session.release(reason, true);
    return this.finalStats;
  }

  /** Only the final figures are kept past release (a few numbers, not the session). */
  private finalStats?: RelayStats;

  quality(): CallQuality | undefined {
    return this.finalStats ? callQuality(this.finalStats) : undefined;
  }
}

/** The relay's per-side receive counts as the call's quality: side a is the caller. */
export function callQuality(stats: RelayStats): CallQuality {
  return { caller: streamQuality(stats.a), callee: streamQuality(stats.b) };
}

function streamQuality(side: SideReport): StreamQuality {
  const { packets, lost, jitterMs } = side.rx;
  // RFC 3550 A.3: lost may go negative with duplicates; loss is never below 0 %.
  const expected = packets + Math.max(0, lost);
  const lossPct = expected > 0 ? Math.round((Math.max(0, lost) / expected) * 10000) / 100 : 0;
  return { packets, lost: Math.max(0, lost), loss_pct: lossPct, jitter_ms: jitterMs };
}
