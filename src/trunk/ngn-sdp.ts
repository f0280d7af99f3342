/**
 * SDP as the NGN accepts it (NGN.md "Media"): PCMU (PT 0) only plus RFC 4733
 * telephone-event, ptime 20, one session-level c= (a duplicate media-level c= got 500),
 * audio only. The relay already put the lease address and an even port in; this only
 * trims codecs and lines. Returns null when the offer has no PCMU: the phone gets 488,
 * since the gateway does not transcode.
 */
import sdpTransform from "sdp-transform";

export const NGN_DTMF_PT = 101;

export function shapeForNgn(sdp: string): string | null {
  const s = sdpTransform.parse(sdp);
  const audio = s.media.find((m) => m.type === "audio" && m.port !== 0);
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
  audio.fmtp = (audio.fmtp ?? []).filter((f) => keep.includes(f.payload));
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
