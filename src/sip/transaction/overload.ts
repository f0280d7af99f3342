/**
 * The transaction layer's bound: past `max` server transactions (live and completed), a new
 * request is answered statelessly with 503 and Retry-After (RFC 3261 §21.5.4, §20.33)
 * instead of being stored, so a flood (a scanner's INVITEs: each one's transaction lingers
 * 32 s) costs a counter, not memory. One rate-limited log line; the count goes to status.
 */
import type { Logger } from "../../log.js";
import { RateLimitedLog } from "../../rate-limited-log.js";
import type { Endpoint, SipRequest, SipResponse } from "../message/types.js";
import { buildResponse } from "./message-view.js";

/**
 * Default bound: a call leaves two server transactions for 32 s (its INVITE in Accepted, RFC
 * 6026, and its BYE completed), so 600 calls/s fit; a few KB each, under 150 MB at the bound.
 */
export const DEFAULT_MAX_SERVER_TRANSACTIONS = 50_000;
/** Default Retry-After on a 503 for overload, seconds. */
export const DEFAULT_RETRY_AFTER_S = 5;

/** A 503 Service Unavailable telling the sender when to try again (§21.5.4). */
export function overloadResponse(req: SipRequest, retryAfterS: number, toTag?: string): SipResponse {
  const res = buildResponse(req, 503, "Service Unavailable", toTag);
  res.headers.splice(res.headers.length - 1, 0, { name: "retry-after", value: String(retryAfterS) });
  return res;
}

export class ServerTransactionBound {
  /** Requests refused because the bound was reached (status). */
  refused = 0;
  private readonly limited: RateLimitedLog;

  constructor(
    readonly max: number,
    readonly retryAfterS: number,
    log: Logger,
    now: () => number,
  ) {
    this.limited = new RateLimitedLog(log, 1, now);
  }

  /** Whether a new server transaction may be stored when `live` exist. */
  admits(live: number): boolean {
    return live < this.max;
  }

  /** The stateless answer for a request past the bound (never for ACK: it gets none). */
  refuse(req: SipRequest, from: Endpoint): SipResponse {
    this.refused++;
    this.limited.warn({ max: this.max, method: req.method, source: `${from.address}:${from.port}`, refused: this.refused }, "too many server transactions: new requests get 503 (limits.server_transactions)");
    return overloadResponse(req, this.retryAfterS);
  }
}
