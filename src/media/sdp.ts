/**
 * SDP rewriting for the relay (RFC 4566 syntax, RFC 3264 offer/answer rules), on sdp-transform.
 *
 * Every call leg must send its media to the gateway's ports, never to the other phone: the NGN
 * only talks to the WAN address, and phones sit behind NAT on the VPN. So each body a leg
 * receives names the gateway in `o=`/`c=`, the relay's even RTP port in the audio `m=`, and the
 * relay's RTCP port in `a=rtcp` (RFC 3605). Payload types, rtpmap/fmtp, telephone-event
 * (RFC 4733), ptime and the direction attribute pass unchanged: codec negotiation stays
 * end-to-end between the phones. Two things cannot pass: ICE (candidates would let the phones
 * route around the relay) and an RFC 2543 hold (c=0.0.0.0), which our c= would hide.
 */
import sdpTransform from "sdp-transform";
import type { MediaDescription, SessionDescription } from "sdp-transform";

export interface SdpRewriteTarget {
  address: string;
  rtpPort: number;
  rtcpPort: number;
  /**
   * Force `o=` sess-version + 1. RFC 3264 §8: the version must grow whenever the body a peer
   * receives changes. Without this flag the peer's own version is kept (it already grows when
   * its content does, and with an unchanged target our rewrite is a function of it); set it
   * when the target itself changed (new ports for the same leg).
   */
  sessionVersionBump?: boolean;
}

export type SdpDirection = "sendrecv" | "sendonly" | "recvonly" | "inactive";

export interface SdpMediaTarget {
  address: string;
  rtpPort: number;
  rtcpPort: number;
  direction: SdpDirection;
  payloadTypes: number[];
  /** RFC 3264 §8.4: sendonly/inactive, or the RFC 2543 way, c=0.0.0.0. */
  hold: boolean;
}

function ipVer(address: string): number {
  return address.includes(":") ? 6 : 4;
}

/** The first audio m-line that is not disabled (port 0), or -1. */
function firstAudio(media: MediaDescription[]): number {
  return media.findIndex((m) => m.type === "audio" && m.port !== 0);
}

/**
 * Rewrite an offer or answer so that its receiver sends media to `target` (the gateway side
 * facing it). Other m-lines are kept but disabled with port 0 (RFC 3264 §6: an answer keeps
 * every m-line; only audio is relayed). There is exactly one `c=`, at session level: the
 * NGN answers 500 to a duplicate media-level `c=`.
 */
export function rewriteSdp(sdp: string, target: SdpRewriteTarget): string {
  const s: SessionDescription = sdpTransform.parse(sdp);
  const audio = firstAudio(s.media);
  if (audio >= 0) explicitHold(s, s.media[audio]!);
  stripIce(s);
  const ver = ipVer(target.address);
  s.origin = { ...s.origin, address: target.address, ipVer: ver, netType: "IN" };
  if (target.sessionVersionBump) s.origin.sessionVersion = Number(s.origin.sessionVersion) + 1;
  s.connection = { version: ver, ip: target.address };
  s.media.forEach((m, i) => {
    delete m.connection;
    stripIce(m);
    if (i !== audio) {
      m.port = 0;
      delete m.rtcp;
      return;
    }
    m.port = target.rtpPort;
    // RFC 3605: announce RTCP only where the peer did, or where it is not rtp+1 (the default).
    if (m.rtcp || target.rtcpPort !== target.rtpPort + 1) {
      m.rtcp = { port: target.rtcpPort, netType: "IN", ipVer: ver, address: target.address };
    }
  });
  return sdpTransform.write(s);
}

/**
 * ICE removal (rtpengine's `ICE=remove`): c=/m= name the relay, so the phones' own candidates
 * (RFC 8839 §5: candidate, ice-ufrag, ice-pwd, ice-options, ice-lite, remote-candidates,
 * end-of-candidates) must not reach the other side: with them an ICE agent would check and
 * pick a direct path around the gateway. Without ICE attributes a peer falls back to c=/m=.
 * Lines sdp-transform cannot parse (a candidate without `typ`) land in `invalid`.
 */
type IceHolder = Pick<SessionDescription, "iceUfrag" | "icePwd" | "iceOptions" | "icelite" | "invalid"> & {
  candidates?: unknown;
  endOfCandidates?: unknown;
  remoteCandidates?: unknown;
};
const ICE_LINE = /^(candidate|ice-|remote-candidates|end-of-candidates)/i;

function stripIce(x: IceHolder): void {
  delete x.iceUfrag;
  delete x.icePwd;
  delete x.iceOptions;
  delete x.icelite;
  delete x.candidates;
  delete x.endOfCandidates;
  delete x.remoteCandidates;
  if (x.invalid) {
    x.invalid = x.invalid.filter((a) => !ICE_LINE.test(a.value));
    if (x.invalid.length === 0) delete x.invalid;
  }
}

/** RFC 3264 §8.4 / RFC 2543 hold: c=0.0.0.0 means "send me nothing", whatever the direction says. */
const WITHOUT_RECV: Record<SdpDirection, SdpDirection> = { sendrecv: "sendonly", sendonly: "sendonly", recvonly: "inactive", inactive: "inactive" };

/**
 * An RFC 2543 hold (c=0.0.0.0 for the audio stream) stated the RFC 3264 §8.4 way, with a
 * direction on the audio m-line: once c= names the relay, the other phone would otherwise
 * read an active offer (and answer sendrecv, or keep sending). No direction → sendonly.
 */
function explicitHold(s: SessionDescription, m: MediaDescription): void {
  const address = m.connection?.ip ?? s.connection?.ip;
  if (address !== "0.0.0.0") return;
  m.direction = WITHOUT_RECV[directionOf(m.direction ?? s.direction)];
}

function directionOf(raw: string | undefined): SdpDirection {
  return raw !== undefined && DIRECTIONS.has(raw) ? (raw as SdpDirection) : "sendrecv";
}

const DIRECTIONS = new Set<string>(["sendrecv", "sendonly", "recvonly", "inactive"]);

/**
 * Where a peer wants its audio (from its offer or answer), or null when it offers none
 * (no audio m-line, or only disabled ones). RFC 3264 §5.1: the media-level `c=` wins over the
 * session-level one, the media-level direction over the session-level one.
 */
export function sdpMediaTarget(sdp: string): SdpMediaTarget | null {
  let s: SessionDescription;
  try {
    s = sdpTransform.parse(sdp);
  } catch {
    return null;
  }
  const i = firstAudio(s.media ?? []);
  if (i < 0) return null;
  const m = s.media[i]!;
  const address = m.connection?.ip ?? s.connection?.ip;
  if (!address || !Number.isInteger(m.port) || m.port <= 0 || m.port > 65535) return null;
  const stated = directionOf(m.direction ?? s.direction);
  // RFC 2543 hold: c=0.0.0.0 takes the receive half away (what rewriteSdp makes explicit).
  const direction = address === "0.0.0.0" ? WITHOUT_RECV[stated] : stated;
  const rtcpPort = m.rtcp?.port ?? m.port + 1;
  const payloadTypes = String(m.payloads ?? "")
    .split(/\s+/)
    .filter((p) => p !== "")
    .map(Number)
    .filter((n) => Number.isInteger(n));
  const hold = direction === "sendonly" || direction === "inactive";
  return { address, rtpPort: m.port, rtcpPort, direction, payloadTypes, hold };
}
