/**
 * The answering machine's SDP (RFC 4566, RFC 3264 offer/answer): what it reads from the
 * caller's offer (where to send RTP, G.711 µ-law or A-law, the RFC 4733 telephone-event
 * payload type for DTMF `#`) and the answer it gives: one audio stream, the codec it took,
 * telephone-event 0-15, ptime 20, on its own socket's address and port.
 */
import sdpTransform from "sdp-transform";
import type { SessionDescription } from "sdp-transform";
import { sdpMediaTarget } from "../../media/sdp.js";

/** What the machine needs of the caller's SDP. */
export interface CallerMedia {
  address: string;
  port: number;
  /** PCMU (0) when offered, else PCMA (8) (RFC 3551 table 4). */
  payloadType: 0 | 8;
  /** The offered `telephone-event/8000` payload type (RFC 4733 §7.1.1), if any. */
  telephoneEventPt?: number;
}

/** The payload type we offer for telephone-event when we make the offer (the NGN's own choice). */
const OWN_TE_PT = 101;

function parse(sdp: string): SessionDescription | null {
  try {
    return sdpTransform.parse(sdp);
  } catch {
    return null;
  }
}

/**
 * The caller's media from its offer or answer: undefined when it has no usable audio stream,
 * or offers neither PCMU nor PCMA (the machine then refuses with 488).
 */
export function callerMedia(sdp: string): CallerMedia | undefined {
  const target = sdpMediaTarget(sdp);
  const s = parse(sdp);
  if (!target || !s) return undefined;
  const pts = target.payloadTypes;
  const payloadType = pts.includes(0) ? 0 : pts.includes(8) ? 8 : undefined;
  if (payloadType === undefined) return undefined;
  const audio = s.media.find((m) => m.type === "audio" && m.port === target.rtpPort);
  const te = audio?.rtp.find((r) => /^telephone-event$/i.test(r.codec) && r.rate === 8000 && pts.includes(r.payload));
  return { address: target.address, port: target.rtpPort, payloadType, telephoneEventPt: te?.payload };
}

/**
 * Our SDP on `address:port`: the answer to `caller` (its codec and telephone-event type), or,
 * without one (a late offer, RFC 3261 §13.2.1), an offer of PCMU with telephone-event.
 * `version` is o='s sess-version: it grows when the body changes (RFC 3264 §8).
 */
export function machineSdp(address: string, port: number, caller: CallerMedia | undefined, sessionId: number, version = 1): string {
  const pt = caller?.payloadType ?? 0;
  const te = caller ? caller.telephoneEventPt : OWN_TE_PT;
  const ip = address.includes(":") ? "IP6" : "IP4";
  const lines = [
    "v=0",
    `o=- ${sessionId} ${version} IN ${ip} ${address}`,
    "s=-",
    `c=IN ${ip} ${address}`,
    "t=0 0",
    `m=audio ${port} RTP/AVP ${pt}${te !== undefined ? ` ${te}` : ""}`,
    pt === 0 ? "a=rtpmap:0 PCMU/8000" : "a=rtpmap:8 PCMA/8000",
  ];
  if (te !== undefined) lines.push(`a=rtpmap:${te} telephone-event/8000`, `a=fmtp:${te} 0-15`);
  lines.push("a=ptime:20", "a=sendrecv");
  return lines.join("\r\n") + "\r\n";
}
