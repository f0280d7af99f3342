/**
 * Sending a request from a test's own transaction layer (a fake phone, the fake NGN) and
 * awaiting its final answer without blocking the test's clock steps.
 */
import type { Endpoint, SipRequest, SipResponse } from "../../../src/sip/message/types.js";
import type { ClientTransaction, TransactionLayer } from "../../../src/sip/transaction/layer.js";

/** A request on its way: `res` holds the latest final response, `done` brings the first, `client` is its transaction (to CANCEL). */
export interface SentRequest {
  res?: SipResponse;
  done: Promise<SipResponse>;
  client: ClientTransaction;
}

/** Send `req` on `tx` to `to` without waiting; `onResponse` sees every response, provisional ones too. */
export function sendRequest(tx: TransactionLayer, req: SipRequest, to: Endpoint, onResponse?: (res: SipResponse) => void): SentRequest {
  const out: Partial<SentRequest> = {};
  out.done = new Promise<SipResponse>((resolve, reject) => {
    out.client = tx.sendRequest(req, to, {
      onResponse: (res) => {
        onResponse?.(res);
        if (res.status < 200) return;
        out.res = res;
        resolve(res);
      },
      onTimeout: () => reject(new Error("timeout")),
      onTransportError: (_t, e) => reject(e),
    });
  });
  // A test that only looks at `res` leaves `done` alone: its rejection is not an unhandled one.
  out.done.catch(() => undefined);
  return out as SentRequest;
}
