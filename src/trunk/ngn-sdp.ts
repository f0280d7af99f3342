/**
 * SDP as the NGN accepts it (NGN.md "Media"): PCMU (PT 0) only plus RFC 4733
 * telephone-event, ptime 20, one session-level c= (a duplicate media-level c= got 500),
 * audio only. The relay already put the lease address and an even port in; this only
 * trims codecs and lines. Returns null when the offer has no PCMU: the phone gets 488,
 * since the gateway does not transcode.
 */
import sdpTransform from "sdp-transform";

export const NGN_DTMF_PT = 101;

/** NGN.md "Media": the events the NGN takes (DTMF 0-9, *, #, A-D), whatever the phone offered. */
export const NGN_DTMF_EVENTS = "0-15";

/**
 * Profiles that are plain RTP on the wire. RTP/AVPF only adds RTCP feedback rules
 * (RFC 4585 §3.1), so its packets are RTP/AVP ones; any SAVP profile is SRTP.
 */
const PLAIN_RTP = /^RTP\/AVPF?$/i;

export function shapeForNgn(sdp: string): string | null {
  const s = sdpTransform.parse(sdp);
  // The NGN takes plain RTP only (NGN.md "Media"), and the relay does not turn SRTP into
  // RTP. An offer whose audio is RTP/SAVP(F) only must get 488 here, before the NGN sees
  // it: once the NGN answered, the call is billed, and the phone would then drop it on an
  // answer in a profile it did not offer (RFC 3264 §6 forbids changing the transport).
  const audio = s.media.find((m) => m.type === "audio" && m.port !== 0 && PLAIN_RTP.test(m.protocol));
  if (!audio) return null;
  const pts = String(audio.payloads ?? "")
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  // NGN.md: telephone-event as PT 101. A phone using another number for it would need the
  // relay to renumber every event packet; its DTMF is left out instead (the call still works).
  const dtmf = (audio.rtp ?? []).filter((r) => /^telephone-event$/i.test(r.codec) && r.rate === 8000 && r.payload === NGN_DTMF_PT).map((r) => r.payload);
  if (!pts.includes(0)) return null;
  const keep = [0, ...pts.filter((p) => dtmf.includes(p))];
  audio.payloads = keep.join(" ");
  audio.rtp = [{ payload: 0, codec: "PCMU", rate: 8000 }, ...(audio.rtp ?? []).filter((r) => keep.includes(r.payload) && r.payload !== 0)];
  // Toward the NGN the event range is always 0-15 (a phone's 0-16 includes flash, which
  // the NGN does not take), and stated even when the phone left the fmtp out.
  audio.fmtp = (audio.fmtp ?? []).filter((f) => keep.includes(f.payload) && f.payload !== NGN_DTMF_PT);
  if (dtmf.length > 0) audio.fmtp.push({ payload: NGN_DTMF_PT, config: NGN_DTMF_EVENTS });
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
