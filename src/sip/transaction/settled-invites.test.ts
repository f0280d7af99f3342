/**
 * INVITE server transactions in Accepted (RFC 6026 §7.1) and Confirmed (§17.2.1) leave the
 * layer for small records (settled-invites.ts): the layer still absorbs what they absorbed,
 * answers a CANCEL as they did, and holds nothing of the transaction object meanwhile.
 */
import { describe, expect, it } from "vitest";
import type { SipRequest } from "../message/types.js";
import { createResponse, getHeader, tagOf } from "../message/index.js";
import { harness, isRequest, isStatus, requestText, sendTimes, sentByGw, type Harness } from "../../../test/support/sip/transaction-harness.js";
import type { ServerTransaction } from "./layer.js";
import { collected } from "../../../test/support/heap.js";


/** An INVITE from the phone, its transaction, and what reached the TU. */
async function invited(hx: Harness, text = requestText({ method: "INVITE" })) {
  const seen: Array<{ req: SipRequest; tx: ServerTransaction | undefined }> = [];
  hx.layer.onRequest((req, tx) => seen.push({ req, tx }));
  await hx.inject(text);
  return { seen, tx: seen[0]!.tx! };
}

/** An answered INVITE whose TU let go of its transaction (a call that ended): only a WeakRef to it is left. */
async function acceptedAndLetGo(hx: Harness): Promise<{ seen: Array<{ req: SipRequest }>; ref: WeakRef<ServerTransaction> }> {
  const r = await invited(hx);
  r.tx.respond(createResponse(r.tx.request, 200, "OK", { toTag: "gw1" }));
  expect(r.tx.state).toBe("accepted");
  await hx.inject(requestText({ method: "ACK", branch: "z9hG4bKack2xx", toTag: "gw1" })); // the 2xx's retransmissions stop
  const ref = new WeakRef(r.tx);
  for (const s of r.seen) s.tx = undefined;
  return { seen: r.seen, ref };
}

/** An RFC 2543 INVITE (no magic cookie): matched by Request-URI, tags, Call-ID, CSeq and Via. */
const OLD_VIA = "SIP/2.0/UDP 198.18.0.2:5062;branch=old1";

describe("settled INVITE server transactions (RFC 6026 §7.1 Accepted, §17.2.1 Confirmed)", () => {
  it("Accepted: the layer lets go of the transaction object, still absorbs retransmitted INVITEs until Timer L", async () => {
    const hx = harness({ sendTrying: false });
    const { seen, ref } = await acceptedAndLetGo(hx);
    expect(await collected(ref)).toBe(true);
    expect(hx.layer.stats().servers).toBe(1);
    await hx.advance(20_000);
    await hx.inject(requestText({ method: "INVITE" }));
    expect(seen).toHaveLength(2); // the INVITE and the 2xx's ACK: the retransmission was absorbed
    expect(sendTimes(hx, isStatus(200))).toEqual([0]); // nothing answered it
    await hx.advance(12_000);
    expect(hx.layer.stats()).toMatchObject({ servers: 0, timers: 0 });
    // Past Timer L the same INVITE is a new request.
    await hx.inject(requestText({ method: "INVITE" }));
    expect(seen).toHaveLength(3);
  });

  it("Accepted: a CANCEL gets 200 with the INVITE's To tag (§9.2) and reaches nobody; the 2xx's ACK goes to the TU", async () => {
    const hx = harness({ sendTrying: false });
    const { seen, tx } = await invited(hx);
    let cancels = 0;
    tx.onCancel = () => cancels++;
    tx.respond(createResponse(tx.request, 200, "OK", { toTag: "gw1" }));
    await hx.inject(requestText({ method: "CANCEL" }));
    const ok = sentByGw(hx, (m) => m.kind === "response" && m.status === 200 && getHeader(m, "cseq") === "1 CANCEL");
    expect(ok).toHaveLength(1);
    expect(tagOf(getHeader(ok[0]!, "to"))).toBe("gw1");
    expect(cancels).toBe(0);
    expect(sentByGw(hx, isStatus(487))).toHaveLength(0);
    await hx.inject(requestText({ method: "ACK", branch: "z9hG4bKack2xx", toTag: "gw1" }));
    expect(seen.map((s) => s.req.method)).toEqual(["INVITE", "ACK"]);
  });

  it("Accepted: the TU holding the transaction may still send its 2xx again; Terminated at Timer L", async () => {
    const hx = harness({ sendTrying: false, retransmit2xx: false });
    const { tx } = await invited(hx);
    tx.respond(createResponse(tx.request, 200, "OK", { toTag: "gw1" }));
    await hx.advance(1000);
    tx.respond(createResponse(tx.request, 200, "OK", { toTag: "gw1" }));
    expect(sendTimes(hx, isStatus(200))).toEqual([0, 1000]);
    await hx.advance(30_999);
    expect(tx.state).toBe("accepted");
    await hx.advance(1);
    expect(tx.state).toBe("terminated");
    tx.respond(createResponse(tx.request, 200, "OK", { toTag: "gw1" }));
    expect(sendTimes(hx, isStatus(200))).toHaveLength(2);
  });

  it("Confirmed: retransmitted INVITEs and ACKs are absorbed until Timer I, then the transaction is gone", async () => {
    const hx = harness({ sendTrying: false });
    const { seen, tx } = await invited(hx);
    tx.respond(createResponse(tx.request, 407, "Proxy Authentication Required", { toTag: "gw1" }));
    await hx.inject(requestText({ method: "ACK", toTag: "gw1" }));
    expect(tx.state).toBe("confirmed");
    expect(hx.layer.stats().servers).toBe(1);
    await hx.advance(1000);
    await hx.inject(requestText({ method: "INVITE" }));
    await hx.inject(requestText({ method: "ACK", toTag: "gw1" }));
    expect(seen).toHaveLength(1);
    expect(sendTimes(hx, isStatus(407))).toEqual([0]);
    await hx.advance(4000);
    expect(tx.state).toBe("terminated");
    expect(hx.layer.stats()).toMatchObject({ servers: 0, timers: 0 });
  });

  it("RFC 2543 matching still compares To tags: a retransmitted INVITE is absorbed, an ACK with another tag is passed up", async () => {
    const hx = harness({ sendTrying: false });
    const { seen, tx } = await invited(hx, requestText({ method: "INVITE", via: OLD_VIA }));
    tx.respond(createResponse(tx.request, 486, "Busy Here", { toTag: "gw1" }));
    await hx.inject(requestText({ method: "ACK", via: OLD_VIA, toTag: "gw1" }));
    expect(tx.state).toBe("confirmed");
    await hx.inject(requestText({ method: "INVITE", via: OLD_VIA }));
    await hx.inject(requestText({ method: "ACK", via: OLD_VIA, toTag: "gw1" }));
    expect(seen).toHaveLength(1);
    // Same key, another To tag: not ours to absorb (§17.2.3).
    await hx.inject(requestText({ method: "ACK", via: OLD_VIA, toTag: "other" }));
    expect(seen.map((s) => s.req.method)).toEqual(["INVITE", "ACK"]);
    expect(sentByGw(hx, isRequest("INVITE"))).toHaveLength(0);
  });
});
