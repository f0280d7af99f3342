/**
 * Requests from the caller inside its early dialog, while the call still rings (RFC 3261
 * §12.1, RFC 3311 §5.1: UPDATE and INFO are allowed there). The caller's dialog exists, so
 * they never get 481 ("the dialog is gone" makes phones drop the call); what they can reach
 * depends on how many callee devices have an early dialog of their own.
 */
import type { SipRequest } from "../sip/message/types.js";
import { createResponse, getHeader, setHeader } from "../sip/message/index.js";
import type { ServerTransaction } from "../sip/transaction/layer.js";
import type { Leg } from "./call-types.js";

/** What the early-dialog handling needs from its call. */
export interface EarlyDialogPort {
  /** The callee legs with an early dialog that still ring. */
  earlyLegs(): Leg[];
  /** Relay an in-dialog request to `to` and its final response back (the mid-call relay). */
  relay(from: Leg, to: Leg, req: SipRequest, tx: ServerTransaction): void;
  /** Our Contact toward a leg's peer. */
  contactToward(leg: Leg): string;
}

/** RFC 3261 §14.2 / RFC 3311 §5.2: "try again later", Retry-After chosen at random in 0–10 s. */
function retryLater(req: SipRequest, tx: ServerTransaction, random: () => number): void {
  const res = createResponse(req, 500, "Server Internal Error");
  setHeader(res, "retry-after", String(Math.min(10, Math.floor(random() * 11))));
  tx.respond(res);
}

/**
 * The caller's request in its early dialog (`leg` is the caller's leg, not yet answered).
 * Returns false for methods it does not handle (the caller then gets what it got before).
 *
 * - INFO: relayed when exactly one device has an early dialog (it may be early-media DTMF
 *   or a ringing-time application the callee understands), else 200: with several devices
 *   ringing there is no one to give it to, and refusing it would look like a broken dialog.
 * - UPDATE without SDP (a session-timer refresh or a target refresh): 200 with our Contact.
 * - UPDATE with SDP (a new offer): relayed to the single early device, whose own answer
 *   (or its 491/500) comes back. With none or several, 500 with Retry-After, not 491:
 *   RFC 3311 §5.2 gives 491 for glare (an offer of ours still unanswered), which is not the
 *   case; while the caller's INVITE offer is unanswered the RFC demands 500 + Retry-After, and
 *   with several forks there is no single dialog to apply the offer to until one answers, so
 *   "try again in a few seconds" is the honest answer in both cases.
 * - INVITE (a re-INVITE before our final response to the initial one): 500 with Retry-After
 *   (RFC 3261 §14.2).
 */
export function onEarlyRequest(port: EarlyDialogPort, leg: Leg, req: SipRequest, tx: ServerTransaction, random: () => number = Math.random): boolean {
  const early = port.earlyLegs();
  const single = early.length === 1 ? early[0] : undefined;
  switch (req.method) {
    case "INFO":
      if (single) port.relay(leg, single, req, tx);
      else tx.respond(createResponse(req, 200, "OK"));
      return true;
    case "UPDATE": {
      const hasSdp = req.body.length > 0 && (getHeader(req, "content-type") ?? "application/sdp").toLowerCase().startsWith("application/sdp");
      if (hasSdp) {
        if (single) port.relay(leg, single, req, tx);
        else retryLater(req, tx, random);
        return true;
      }
      // UPDATE is a target refresh request (RFC 3311 §5.2): learn its Contact, give ours.
      leg.dialog.refreshTarget(req);
      const ok = createResponse(req, 200, "OK");
      setHeader(ok, "contact", port.contactToward(leg));
      tx.respond(ok);
      return true;
    }
    case "INVITE":
      retryLater(req, tx, random);
      return true;
    default:
      return false;
  }
}
