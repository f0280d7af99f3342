/**
 * CallMedia over the relay: each side's SDP is pointed at the gateway's ports for the other
 * side, and what a side offers or answers tells the relay where that side's media will come
 * from (latching expectation) and whether it is on hold.
 */
import type { MediaRelay } from "../media/relay.js";
import type { RelaySession } from "../media/relay-session.js";
import { rewriteSdp, sdpMediaTarget } from "../media/sdp.js";
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
  private released = false;

  constructor(private readonly session: RelaySession) {
    session.on("timeout", (_s, side) => this.onTimeout?.(side));
  }

  fromSide(from: CallSide, sdp: string, advertise: string): string {
    const target = sdpMediaTarget(sdp);
    if (target) {
      if (!target.hold) this.session.setExpectedPeer(from, { address: target.address, rtpPort: target.rtpPort, rtcpPort: target.rtcpPort });
      this.session.hold(from, target.hold);
    }
    // The other side sends to the gateway's ports of its own side.
    const other = from === "a" ? this.session.b : this.session.a;
    return rewriteSdp(sdp, { address: advertise, rtpPort: other.rtpPort, rtcpPort: other.rtcpPort });
  }

  peerMoved(side: CallSide): void {
    if (!this.released) this.session.relearn(side);
  }

  release(reason: string): unknown {
    if (this.released) return undefined;
    this.released = true;
    return this.session.release(reason);
  }
}
