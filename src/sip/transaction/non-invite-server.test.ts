import { describe, expect, it } from "vitest";
import type { SipRequest } from "../message/types.js";
import { createResponse } from "../message/index.js";
import { harness, isStatus, requestText, sendTimes } from "../../../test/support/sip/transaction-harness.js";
import type { ServerTransaction } from "./layer.js";

async function registered() {
  const hx = harness();
  const seen: Array<{ req: SipRequest; tx: ServerTransaction | undefined }> = [];
  hx.layer.onRequest((req, tx) => seen.push({ req, tx }));
  await hx.inject(requestText({ method: "REGISTER" }));
  return { hx, seen, tx: seen[0]!.tx! };
}
const again = requestText({ method: "REGISTER" });

describe("non-INVITE server transaction (RFC 3261 §17.2.2)", () => {
  it("Trying absorbs retransmissions silently", async () => {
    const { hx, seen, tx } = await registered();
    expect(tx.state).toBe("trying");
    await hx.inject(again);
    expect(seen).toHaveLength(1);
    expect(hx.gw.sent).toHaveLength(0);
  });

  it("Proceeding resends the last provisional on a retransmission", async () => {
    const { hx, tx } = await registered();
    tx.respond(createResponse(tx.request, 100, "Trying"));
    expect(tx.state).toBe("proceeding");
    await hx.advance(300);
    await hx.inject(again);
    expect(sendTimes(hx, isStatus(100))).toEqual([0, 300]);
  });

  it("Completed resends the final on retransmissions, refuses more responses, Timer J then Terminated", async () => {
    const { hx, seen, tx } = await registered();
    const req = tx.request;
    tx.respond(createResponse(req, 200, "OK", { toTag: "gw1" }));
    expect(tx.state).toBe("completed");
    // Completed keeps only the wire form of the final: the parsed request is released.
    expect(() => tx.request).toThrow(/released/);
    await hx.advance(1000);
    await hx.inject(again);
    tx.respond(createResponse(req, 500, "X", { toTag: "gw1" }));
    expect(sendTimes(hx, isStatus(200))).toEqual([0, 1000]);
    expect(sendTimes(hx, isStatus(500))).toEqual([]);
    await hx.advance(30_999);
    expect(tx.state).toBe("completed");
    await hx.advance(1);
    expect(tx.state).toBe("terminated"); // J = 64*T1
    expect(hx.layer.stats()).toMatchObject({ servers: 0, timers: 0 });
    // After J the same request is new again.
    await hx.inject(again);
    expect(seen).toHaveLength(2);
  });

  it("responses go to the packet source by default (NAT), to Via received/rport otherwise (§18.2.2)", async () => {
    const { hx, tx } = await registered();
    tx.respond(createResponse(tx.request, 200, "OK", { toTag: "gw1" }));
    expect(hx.gw.sent[0]!.to).toEqual({ address: "198.18.0.2", port: 5062 });

    const hy = harness({ respondToSource: false });
    const txs: ServerTransaction[] = [];
    hy.layer.onRequest((_r, t) => t && txs.push(t));
    // Sent-by says 198.18.0.77:5070 without rport: received= is stamped, port stays the Via's.
    await hy.inject(requestText({ method: "OPTIONS", via: "SIP/2.0/UDP 198.18.0.77:5070;branch=z9hG4bKv1" }));
    txs[0]!.respond(createResponse(txs[0]!.request, 200, "OK", { toTag: "gw1" }));
    expect(hy.gw.sent[0]!.to).toEqual({ address: "198.18.0.2", port: 5070 });
    // With rport the response goes back to the source port (RFC 3581 §4).
    await hy.inject(requestText({ method: "OPTIONS", via: "SIP/2.0/UDP 198.18.0.77:5070;branch=z9hG4bKv2;rport" }));
    txs[1]!.respond(createResponse(txs[1]!.request, 200, "OK", { toTag: "gw1" }));
    expect(hy.gw.sent[1]!.to).toEqual({ address: "198.18.0.2", port: 5062 });
  });

  it("a throwing request handler is caught; the process survives", async () => {
    const hx = harness();
    hx.layer.onRequest(() => {
      throw new Error("TU bug");
    });
    await hx.inject(requestText({ method: "OPTIONS" }));
    expect(hx.layer.stats().servers).toBe(1);
  });
});
