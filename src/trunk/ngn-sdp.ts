/**
 * SDP as the NGN accepts it (docs/ngn.md "Media"): PCMU (PT 0) only plus RFC 4733
 * telephone-event, ptime 20, one session-level c= (a duplicate media-level c= got 500),
 * audio only. The relay already put the lease address and an even port in; this only
 * trims codecs and lines. Returns null when the offer has no PCMU: the phone gets 488,
 * since the gateway does not transcode.
 */
import sdpTransform from "sdp-transform";

export const NGN_DTMF_PT = 101;

/** docs/ngn.md "Media": the events the NGN takes (DTMF 0-9, *, #, A-D), whatever the phone offered. */
export const NGN_DTMF_EVENTS = "0-15";

/**
 * Profiles that are plain RTP on the wire. RTP/AVPF only adds RTCP feedback rules
 * (RFC 4585 §3.1), so its packets are RTP/AVP ones; any SAVP profile is SRTP.
 */
const PLAIN_RTP = /^RTP\/AVPF?$/i;

export function shapeForNgn(sdp: string): string | null {
  const s = sdpTransform.parse(sdp);
  // The NGN takes plain RTP only (docs/ngn.md "Media"), and the relay does not turn SRTP into
  // RTP. An offer whose audio is RTP/SAVP(F) only must get 488 here, before the NGN sees
  // it: once the NGN answered, the call is billed, and the phone would then drop it on an
  // answer in a profile it did not offer (RFC 3264 §6 forbids changing the transport).
  const audio = s.media.find((m) => m.type === "audio" && m.port !== 0 && PLAIN_RTP.test(m.protocol));
  if (!audio) return null;
  const pts = String(audio.payloads ?? "")
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  if (!pts.includes(0)) return null;
  // docs/ngn.md "Media": PCMU plus telephone-event as PT 101, events 0-15, the form the line's own home
  // gateway always sends; so 101 is offered even for a phone that named no telephone-event
  // (its events, if any, go in-band in PCMU, and any the NGN sends it are ignored by it).
  // A phone that numbers telephone-event otherwise (desk phones use 96, 97 or 127) is
  // renumbered to 101: in an offer, the NGN's answer names 101 and the phone sends its
  // events as 101 (RFC 3264 §6.1 lets an answer renumber a format; what a receiver declares
  // is what the sender uses, §5.1). No other dynamic PT survives the trim, so 101 cannot
  // collide. The range is 0-15 even when the phone offered 0-16 (flash) or no fmtp.
  audio.payloads = `0 ${NGN_DTMF_PT}`;
  audio.rtp = [
    { payload: 0, codec: "PCMU", rate: 8000 },
    { payload: NGN_DTMF_PT, codec: "telephone-event", rate: 8000 },
  ];
  audio.fmtp = [{ payload: NGN_DTMF_PT, config: NGN_DTMF_EVENTS }];
  audio.ptime = 20;
  delete audio.maxptime;
  delete audio.connection;
  // Drop crypto, ICE, rtcp-fb and other attributes a plain RTP/AVP peer does not want.
  delete audio.crypto;
  delete audio.candidates;
  delete audio.iceUfrag;
  delete audio.icePwd;
  delete audio.rtcpFb;
  delete audio.rtcpMux;
  delete audio.ext;
  audio.protocol = "RTP/AVP";
  s.media = [audio];
  delete s.iceUfrag;
  delete s.icePwd;
  delete s.groups;
  return sdpTransform.write(s);
}

/** The o= session version, to tell a session refresh (unchanged) from a real new offer. */
export function sdpVersion(sdp: string): string | undefined {
  const m = /^o=\S+ \S+ (\S+) /m.exec(sdp);
  return m?.[1];
}
