/**
 * A call the PBX refuses before it rings anything: the answer to the phone and one info
 * line saying which rule made it (the number, the dialplan entry or "no match", the trunk's
 * state), so a user can see why "899" failed. Rate-limited (a phone or a scanner redialling
 * must not flood the log), with the count of lines left out on the next one.
 *
 * Which status: a refusal that will not change by retrying is permanent, and says why in its
 * reason phrase. A trunk that is not configured at all is 403 (RFC 3261 §21.4.4: "the
 * request SHOULD NOT be repeated"), not 503, which invites a client to retry (§21.5.4) and
 * made one re-send the INVITE with used credentials and show its user a 407.
 */
import type { Logger } from "../log.js";
import type { SipRequest } from "../sip/message/types.js";
import type { ServerTransaction } from "../sip/transaction/layer.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { reply } from "./out-of-dialog.js";

/** Why a call was refused, for its log line. */
export interface RefusalFacts {
  /** The number as dialled (the Request-URI user part). */
  dialled: string;
  /** The caller (an authenticated extension), when known. */
  caller?: string;
  /** The dialplan entry that routed it, or "no match". */
  rule?: string;
  /** Why, in words: "unknown extension", "trunk not configured", "trunk not registered"… */
  why: string;
  /** A refusal worth an operator's attention (toll-fraud rules, call limits): logged at warn. */
  alarm?: boolean;
}

/** RFC 3261 §21.4.4: permanent, with a reason phrase that says why. */
export const TRUNK_NOT_CONFIGURED = { status: 403, reason: "No Trunk Configured" } as const;

export class CallRefusals {
  private readonly lines: RateLimitedLog;

  constructor(log: Logger, now: () => number) {
    this.lines = new RateLimitedLog(log, 5, now);
  }

  /** Answer `req` with `status` and log why, once. */
  refuse(req: SipRequest, tx: ServerTransaction, status: number, reason: string, facts: RefusalFacts): void {
    tx.respond(reply(req, status, reason));
    const fields = { status, reason, to: facts.dialled, from: facts.caller, rule: facts.rule, why: facts.why };
    if (facts.alarm) this.lines.warn(fields, "call refused");
    else this.lines.info(fields, "call refused");
  }
}
