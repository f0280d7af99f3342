/**
 * Transaction matching keys. One Map lookup per message, whatever the number of live
 * transactions (Yate's linear scan is what makes it slow under load, docs/testing.md "Benchmarks").
 */
import type { SipRequest, SipResponse } from "../message/types.js";
import { MAGIC_COOKIE, cseqOf, header, tagOf, topVia, topViaValue, uriKey } from "./message-view.js";

/** §17.1.3: a response matches by its top Via branch and its CSeq method. */
export function clientKey(branch: string, method: string): string {
  return `${branch}\u0000${method}`;
}

export function responseKey(res: SipResponse): string | undefined {
  const branch = topVia(res)?.params.get("branch");
  const cs = cseqOf(res);
  if (!branch || !cs) return undefined;
  return clientKey(branch, cs.method);
}

export interface ServerKey {
  key: string;
  /** Matched the RFC 2543 way: the To tag must still be compared by the caller. */
  rfc2543: boolean;
}

/**
 * §17.2.3: branch + sent-by + method, with ACK matching the INVITE (pass method
 * "INVITE" for an ACK, and for a CANCEL looking for its INVITE, §9.2). Without the
 * magic cookie, the RFC 2543 rule: Request-URI, From tag, Call-ID, CSeq number and the
 * top Via (the To tag is left to the caller: an ACK carries the tag of our response,
 * the INVITE did not).
 */
export function serverKey(req: SipRequest, method: string): ServerKey | undefined {
  const via = topVia(req);
  if (!via) return undefined;
  const branch = via.params.get("branch");
  if (branch && branch.startsWith(MAGIC_COOKIE)) {
    return { key: `${branch}\u0000${via.host.toLowerCase()}:${via.port ?? ""}\u0000${method}`, rfc2543: false };
  }
  const cs = cseqOf(req);
  const cid = header(req, "call-id");
  if (!cs || cid === undefined) return undefined;
  const key = ["2543", uriKey(req.uri), tagOf(header(req, "from")), cid, cs.seq, method, topViaValue(req) ?? ""].join("\u0000");
  return { key, rfc2543: true };
}

/** §13.3.1.4: the ACK for a 2xx is matched to its retransmission by dialog and CSeq. */
export function ackKey(callId: string, seq: number, toTag: string): string {
  return `${callId}\u0000${seq}\u0000${toTag}`;
}
