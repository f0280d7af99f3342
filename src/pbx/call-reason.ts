/**
 * RFC 3326 `Reason` headers on the requests that end a call's legs: why a device stopped
 * ringing (a CANCEL) or why a call was hung up (a BYE). Phones show it: with
 * `SIP;cause=200;text="Call completed elsewhere"` (RFC 3326 §2, the value RFC 3261
 * forking proxies use) a device that lost the race lists the call as answered elsewhere,
 * not as missed.
 */
import type { Header, SipRequest } from "../sip/message/types.js";
import { getHeaders } from "../sip/message/index.js";

/** RFC 3326 §2: the CANCEL to the devices that lost the race. */
export const ANSWERED_ELSEWHERE: Header = { name: "reason", value: 'SIP;cause=200;text="Call completed elsewhere"' };

/** Q.850 causes (ITU-T Q.850 table 1) for the hangups the gateway makes itself. */
export const Q850 = {
  /** Normal call clearing: a command, the other side's BYE with no reason of its own. */
  normal: 16,
  /** Network out of order: the WAN lease changed, the line went away. */
  networkOutOfOrder: 38,
  /** Temporary failure: the gateway shuts down. */
  temporaryFailure: 41,
  /** Recovery on timer expiry: media timeout, no ACK, session timer, maximum call length. */
  timerExpiry: 102,
} as const;

/**
 * RFC 3326 §2 `protocol ;cause= ;text=`: the text is a quoted-string (RFC 3261 §25.1), so
 * quotes, backslashes and control characters of a free-form reason are left out rather than
 * escaped (a phone's display does not need them), and it is cut to a display's length.
 */
export function q850Reason(cause: number, text: string): Header {
  const clean = text.replace(/["\\\x00-\x1f\x7f]/g, "").slice(0, 80);
  return { name: "reason", value: `Q.850;cause=${cause};text="${clean}"` };
}

/** The Reason headers of a request (a CANCEL or BYE from one side), to pass on to the other (RFC 3326 §3). */
export function reasonsOf(req: SipRequest): Header[] {
  return getHeaders(req, "reason").slice(0, 4).map((value) => ({ name: "reason", value: value.slice(0, 256) }));
}

/** The Q.850 cause that fits a hangup reason the gateway gives in words. */
export function causeFor(reason: string): number {
  if (/timeout|timed out|timer|no ACK|no PRACK|call length/i.test(reason)) return Q850.timerExpiry;
  if (/lease|network|line (went )?down|address changed/i.test(reason)) return Q850.networkOutOfOrder;
  if (/shutting down|shutdown/i.test(reason)) return Q850.temporaryFailure;
  return Q850.normal;
}

/**
 * RFC 3326 §2 with protocol SIP: the final status a request got, carried on the BYE to the
 * other party (click-to-dial: the extension answered, then the number it dialled was busy,
 * so its BYE says `SIP;cause=486;text="Busy Here"`).
 */
export function sipReason(status: number, text: string): Header {
  const clean = text.replace(/["\\\x00-\x1f\x7f]/g, "").slice(0, 80);
  return { name: "reason", value: `SIP;cause=${status};text="${clean}"` };
}
