/**
 * The shape of an SDP answer (RFC 3264 §6): exactly as many m-lines as the offer, in the
 * offer's order, each with the offer's media type and transport; a stream the answerer
 * refuses keeps its line with port 0. A B2BUA breaks this when the other side saw a trimmed
 * offer (the NGN is offered audio only) and answered that: the trimmed lines must come back,
 * disabled, before the answer reaches the leg that made the offer.
 */
import sdpTransform from "sdp-transform";
import type { MediaDescription, SessionDescription } from "sdp-transform";

/**
 * Whether an answered stream may stand for an offered one. Plain RTP profiles interwork
 * (RTP/AVP and RTP/AVPF: AVPF only adds feedback, RFC 4585 §5), so the answer just takes the
 * offer's name; a secure profile (RTP/SAVP, RTP/SAVPF, UDP/TLS/…) never matches a plain one:
 * the keys were never exchanged, and the stream cannot be used as answered.
 */
function fits(offered: MediaDescription, answered: MediaDescription): boolean {
  if (offered.type !== answered.type) return false;
  const o = offered.protocol.toUpperCase();
  const a = answered.protocol.toUpperCase();
  if (o === a) return true;
  const plain = (p: string) => p === "RTP/AVP" || p === "RTP/AVPF";
  return plain(o) && plain(a);
}

/** The offered line refused: port 0, the offer's type, transport and formats (§6: at least one format must be listed). */
function refused(offered: MediaDescription): MediaDescription {
  const m: MediaDescription = { type: offered.type, port: 0, protocol: offered.protocol, payloads: offered.payloads || "0", rtp: [], fmtp: [] };
  // RFC 5888 §9.2: with grouping in use, every answered m-line keeps its mid.
  if (offered.mid !== undefined) m.mid = offered.mid;
  return m;
}

function parse(sdp: string): SessionDescription | null {
  try {
    const s = sdpTransform.parse(sdp);
    // sdp-transform accepts any text: an m= line it could not read has no type, port or
    // transport. Such a body is not shaped (and not copied into an answer) at all.
    const wellFormed = (m: MediaDescription) => typeof m.type === "string" && typeof m.protocol === "string" && Number.isInteger(m.port);
    return Array.isArray(s.media) && s.media.every(wellFormed) ? s : null;
  } catch {
    return null;
  }
}

/**
 * `answer` with its m-lines lined up against `offer`'s. Walking the offer in order, each
 * line takes the next answer line when that one fits it; a line with no fitting answer is
 * refused with port 0. An answer line that does not fit is only skipped over (left for a
 * later offer line) while the answer has fewer lines left than the offer: then the other side
 * dropped lines, and this is one of them. An offered line with port 0 stays refused (§6).
 * Returns `answer` unchanged when either body cannot be parsed.
 */
export function shapeAnswer(offer: string, answer: string): string {
  const o = parse(offer);
  const a = parse(answer);
  if (!o || !a || o.media.length === 0) return answer;
  if (o.media.length === a.media.length && o.media.every((m, i) => fits(m, a.media[i]!) && m.protocol === a.media[i]!.protocol && (m.port !== 0 || a.media[i]!.port === 0))) {
    return answer; // already the offer's shape: keep the other side's bytes as they are
  }
  const out: MediaDescription[] = [];
  let j = 0;
  o.media.forEach((m, i) => {
    const candidate = a.media[j];
    const offerLeft = o.media.length - i;
    const answerLeft = a.media.length - j;
    if (candidate && m.port !== 0 && fits(m, candidate)) {
      out.push({ ...candidate, protocol: m.protocol });
      j++;
      return;
    }
    out.push(refused(m));
    // The answer kept as many lines as the offer has left: this one answers `m`, badly.
    if (candidate && answerLeft >= offerLeft) j++;
  });
  a.media = out;
  return sdpTransform.write(a);
}

/**
 * An answer that refuses every stream of `offer` (all ports 0), from `host`. RFC 3261
 * §13.2.2.4: a UAC that got an offer in a 2xx must ACK it with an answer even when it is
 * about to hang up; this is the answer to send then.
 */
export function refuseAll(offer: string, host: string): string {
  const o = parse(offer);
  const ipVer = host.includes(":") ? 6 : 4;
  const s: SessionDescription = {
    version: 0,
    origin: { username: "-", sessionId: Math.floor(Math.random() * 1e9), sessionVersion: 1, netType: "IN", ipVer, address: host },
    name: "-",
    connection: { version: ipVer, ip: host },
    timing: { start: 0, stop: 0 },
    media: (o?.media ?? []).map(refused),
  };
  return sdpTransform.write(s);
}
