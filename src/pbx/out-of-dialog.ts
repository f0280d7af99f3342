/**
 * Answers the PBX gives on its own, outside any call: capability probes, methods it does not
 * serve, requests that name a dialog it does not have, and extensions it does not support.
 * Every final answer carries a To tag (RFC 3261 §8.2.6.2: a UAS MUST add one when the request
 * had none), so a phone can tell our answers apart from a forking proxy's.
 */
import type { SipRequest, SipResponse } from "../sip/message/types.js";
import { createResponse, getHeaders, newTag, setHeader } from "../sip/message/index.js";

/**
 * Methods a phone may send us. NOTIFY, REFER, MESSAGE, PUBLISH and SUBSCRIBE outside a call
 * are not served (no event packages, no messaging), so they are not listed (§20.5).
 */
export const ALLOW = "INVITE, ACK, CANCEL, BYE, UPDATE, INFO, OPTIONS, REGISTER, PRACK";

/**
 * Option tags a phone may put in Require of a request that starts something here (§8.2.2.3).
 * `path` (RFC 3327) comes from an edge proxy in front of phones; the registrar stores it.
 * 100rel, timer, replaces, gruu and the rest are not done on the phone side.
 */
const SUPPORTED = new Set(["path"]);

/** A response to `req` with a To tag when the request had none. */
export function reply(req: SipRequest, status: number, reason?: string): SipResponse {
  return createResponse(req, status, reason, { toTag: newTag() });
}

/** The option tags in Require that we do not support (empty: go on). */
export function unsupportedRequire(req: SipRequest): string[] {
  const tags = getHeaders(req, "require")
    .flatMap((v) => v.split(","))
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== "");
  return [...new Set(tags.filter((t) => !SUPPORTED.has(t)))];
}

/** 420 Bad Extension listing what we do not support (§8.2.2.3, §21.4.15). */
export function badExtension(req: SipRequest, tags: string[]): SipResponse {
  const res = reply(req, 420, "Bad Extension");
  setHeader(res, "unsupported", tags.join(", "));
  return res;
}

/** What the PBX answers to an out-of-dialog request it does not route (not INVITE/REGISTER). */
export function answerOutOfDialog(req: SipRequest): SipResponse {
  switch (req.method) {
    case "OPTIONS": {
      // Phones use OPTIONS as a keep-alive and capability probe (§11.2).
      const res = reply(req, 200, "OK");
      setHeader(res, "allow", ALLOW);
      setHeader(res, "accept", "application/sdp");
      return res;
    }
    case "BYE":
    case "UPDATE":
    case "INFO":
    case "PRACK":
      // Only meaningful inside a dialog (§15, RFC 3311, RFC 6086, RFC 3262).
      return reply(req, 481, "Call/Transaction Does Not Exist");
    case "SUBSCRIBE": {
      // No event packages (presence, MWI) are offered (RFC 6665 §4.2.1.1). Allow-Events would
      // list the supported ones, and its grammar needs at least one, so it is left out.
      return reply(req, 489, "Bad Event");
    }
    case "MESSAGE":
    case "NOTIFY":
    case "PUBLISH":
    case "REFER": {
      const res = reply(req, 405, "Method Not Allowed");
      setHeader(res, "allow", ALLOW);
      return res;
    }
    default: {
      const res = reply(req, 501, "Not Implemented");
      setHeader(res, "allow", ALLOW);
      return res;
    }
  }
}
