/**
 * Where a body's audio goes (media/sdp.ts sdpMediaTarget), remembered for the last body read:
 * the call path reads every SDP it forwards twice in a row, for the hold state (call-legs.ts)
 * and for the relay's expected peer (relay-media.ts), and each read was a full sdp-transform
 * parse (a quarter of the SDP work per call). Frozen: the one answer is shared by both readers.
 */
import { sdpMediaTarget, type SdpMediaTarget } from "../media/sdp.js";

let lastSdp: string | undefined;
let lastTarget: Readonly<SdpMediaTarget> | null = null;

export function mediaTargetOf(sdp: string): Readonly<SdpMediaTarget> | null {
  if (sdp === lastSdp) return lastTarget;
  const t = sdpMediaTarget(sdp);
  if (t) Object.freeze(t.payloadTypes);
  lastTarget = t && Object.freeze(t);
  lastSdp = sdp;
  return lastTarget;
}
