/**
 * What the mid-call relay answers on a leg itself instead of passing on: requests the other
 * side must not get, the headers of a refresh answered here, and the SDP edits for answers
 * made from a leg's last SDP.
 */
import sdpTransform from "sdp-transform";
import type { SipRequest, SipResponse } from "../sip/message/types.js";
import { createResponse, getHeader, setHeader } from "../sip/message/index.js";

/** Methods we know but do not serve inside a call: 405 rather than 501 (§21.4.6, §21.5.2). */
const KNOWN_METHODS = new Set(["MESSAGE", "REFER", "NOTIFY", "SUBSCRIBE", "PUBLISH", "REGISTER"]);

/**
 * The answer to a request the other side must not get (`relays`: the NGN takes no OPTIONS,
 * INFO, MESSAGE…). SIP-INFO DTMF (application/dtmf-relay, application/dtmf) gets 200:
 * refusing it would make some phones retry or hang up, and events cannot be injected into
 * the RTP stream here, so the phone must use RFC 4733 for DTMF to reach the line
 * (`onInfoDtmf` lets the call say so once).
 */
export function answerOnThisSide(req: SipRequest, allow: string, onInfoDtmf: () => void): SipResponse {
  let res: SipResponse;
  if (req.method === "OPTIONS") {
    res = createResponse(req, 200, "OK");
    setHeader(res, "accept", "application/sdp");
  } else if (req.method === "INFO") {
    const ctype = (getHeader(req, "content-type") ?? "").toLowerCase();
    if (req.body.length === 0 || /^application\/dtmf(-relay)?\b/.test(ctype)) {
      res = createResponse(req, 200, "OK");
      if (req.body.length > 0) onInfoDtmf();
    } else {
      res = createResponse(req, 415, "Unsupported Media Type");
      setHeader(res, "accept", "application/dtmf-relay, application/dtmf");
    }
  } else res = KNOWN_METHODS.has(req.method) ? createResponse(req, 405, "Method Not Allowed") : createResponse(req, 501, "Not Implemented");
  setHeader(res, "allow", allow);
  return res;
}

/**
 * RFC 4028 §9 for a refresh answered here: echo the request's Session-Expires with the
 * refresher it named (uac when it named none), so the sender stays the refresher.
 * A sender asking us to refresh (refresher=uas) gets no Session-Expires: there is no
 * timer on this leg to do it, and without the header no session timer runs (§7.2).
 */
export function refreshAnswerHeaders(req: SipRequest): { name: string; value: string }[] {
  const se = getHeader(req, "session-expires");
  const m = se ? /^\s*(\d+)\s*(?:;(.*))?$/.exec(se) : null;
  if (!m) return [];
  const refresher = /refresher\s*=\s*(uac|uas)/i.exec(m[2] ?? "")?.[1]?.toLowerCase() ?? "uac";
  if (refresher === "uas") return [];
  return [
    { name: "session-expires", value: `${m[1]};refresher=uac` },
    { name: "require", value: "timer" },
  ];
}

/** `sdp` with every audio stream's direction set; the o= version goes up only when that changed it (RFC 3264 §8). */
export function withDirection(sdp: string, direction: string): string {
  const parsed = sdpTransform.parse(sdp);
  const before = sdpTransform.write(parsed);
  // No direction line means sendrecv (RFC 4566 §6): saying so would change nothing.
  for (const m of parsed.media) if (m.type === "audio" && (m.direction ?? "sendrecv") !== direction) m.direction = direction as "sendrecv";
  // (Without an o= line there is no version to raise; our own SDP always has one.)
  if (sdpTransform.write(parsed) === before || !parsed.origin) return sdp;
  parsed.origin = { ...parsed.origin!, sessionVersion: Number(parsed.origin!.sessionVersion) + 1 };
  return sdpTransform.write(parsed);
}

export function withVersion(sdp: string, version: number): string {
  const parsed = sdpTransform.parse(sdp);
  if (!parsed.origin) return sdp;
  parsed.origin = { ...parsed.origin!, sessionVersion: version };
  return sdpTransform.write(parsed);
}
