import { describe, expect, it } from "vitest";
import type { SipRequest } from "../message/types.js";
import { createResponse } from "../message/index.js";
import { harness, isRequest, isStatus, requestText, sendTimes, type Harness } from "../../../test/support/sip/transaction-harness.js";
import type { ServerTransaction } from "./layer.js";

async function invited(opts = {}) {
  const hx = harness(opts);
  const seen: Array<{ req: SipRequest; tx: ServerTransaction | undefined }> = [];
  hx.layer.onRequest((req, tx) => seen.push({ req, tx }));
  await hx.inject(requestText({ method: "INVITE" }));
  const tx = seen[0]!.tx!;
  return { hx, seen, tx };
}

const ack = (toTag: string, branch = "z9hG4bKphone1") => requestText({ method: "ACK", branch, toTag });
const answers = (hx: Harness, status: number) => sendTimes(hx, isStatus(status));

describe("INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §7.1)", () => {
  it("a retransmitted INVITE is absorbed and gets the last provisional again", async () => {
    const { hx, seen, tx } = await invited({ sendTrying: false });
    expect(tx.state).toBe("proceeding");
    await hx.inject(requestText({ method: "INVITE" }));
    expect(hx.gw.sent).toHaveLength(0); // nothing to resend yet
    tx.respond(createResponse(tx.request, 180, "Ringing", { toTag: "gw1" }));
    await hx.advance(700);
    await hx.inject(requestText({ method: "INVITE" }));
    expect(seen).toHaveLength(1);
    expect(answers(hx, 180)).toEqual([0, 700]);
  });

  it("sends 100 Trying itself when asked to (sendTrying)", async () => {
    const { hx } = await invited({ sendTrying: true });
    expect(answers(hx, 100)).toEqual([0]);
  });

  it("300-699: Timer G retransmits (T1 doubling to T2) until Timer H reports no ACK", async () => {
    const { hx, tx } = await invited();
    let noAck = 0;
    tx.onNoAck = () => noAck++;
    tx.respond(createResponse(tx.request, 486, "Busy Here", { toTag: "gw1" }));
    expect(tx.state).toBe("completed");
    await hx.advance(31_999);
    expect(noAck).toBe(0);
    await hx.advance(1);
    expect(answers(hx, 486)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(noAck).toBe(1);
    expect(tx.state).toBe("terminated");
    expect(hx.layer.stats()).toMatchObject({ servers: 0, timers: 0 });
  });

  it("300-699 then ACK: Confirmed, retransmissions stop, ACK absorbed, Timer I then Terminated", async () => {
    const { hx, seen, tx } = await invited();
    const acks: SipRequest[] = [];
    tx.onAck = (a) => acks.push(a);
    tx.respond(createResponse(tx.request, 486, "Busy Here", { toTag: "gw1" }));
    await hx.advance(600);
    await hx.inject(ack("gw1"));
    expect(tx.state).toBe("confirmed");
    expect(acks).toHaveLength(1);
    await hx.inject(ack("gw1")); // an ACK retransmission is absorbed too
    expect(acks).toHaveLength(1);
    expect(seen).toHaveLength(1); // neither ACK reached onRequest
    await hx.advance(4_999);
    expect(tx.state).toBe("confirmed");
    await hx.advance(1);
    expect(tx.state).toBe("terminated"); // I = T4 after the ACK
    expect(answers(hx, 486)).toEqual([0, 500]);
  });

  it("a retransmitted INVITE in Completed gets the final response again", async () => {
    const { hx, tx } = await invited();
    tx.respond(createResponse(tx.request, 404, "Not Found", { toTag: "gw1" }));
    await hx.advance(200);
    await hx.inject(requestText({ method: "INVITE" }));
    expect(answers(hx, 404)).toEqual([0, 200]);
  });

  it("2xx: Accepted; INVITE retransmissions absorbed; the 2xx ACK goes to the TU; Timer L", async () => {
    const { hx, seen, tx } = await invited();
    tx.respond(createResponse(tx.request, 200, "OK", { toTag: "gw1" }));
    expect(tx.state).toBe("accepted");
    await hx.inject(requestText({ method: "INVITE" }));
    expect(seen).toHaveLength(1);
    expect(answers(hx, 200)).toEqual([0]); // without retransmit2xx the TU retransmits
    // A 2xx ACK has its own branch (§17.1.1.3): passed up with no transaction.
    await hx.inject(ack("gw1", "z9hG4bKack2xx"));
    expect(seen).toHaveLength(2);
    expect(seen[1]!.req.method).toBe("ACK");
    expect(seen[1]!.tx).toBeUndefined();
    // The TU may send the 2xx again through the transaction; a 4xx is refused.
    tx.respond(createResponse(tx.request, 200, "OK", { toTag: "gw1" }));
    tx.respond(createResponse(tx.request, 500, "X", { toTag: "gw1" }));
    expect(answers(hx, 200)).toHaveLength(2);
    expect(answers(hx, 500)).toHaveLength(0);
    await hx.advance(32_000);
    expect(tx.state).toBe("terminated");
    expect(hx.layer.stats()).toMatchObject({ servers: 0, timers: 0 });
  });

  it("retransmit2xx: 2xx resent T1 doubling to T2 until the ACK", async () => {
    const { hx, tx } = await invited({ retransmit2xx: true });
    tx.respond(createResponse(tx.request, 200, "OK", { toTag: "gw1" }));
    await hx.advance(8_000);
    expect(answers(hx, 200)).toEqual([0, 500, 1500, 3500, 7500]);
    await hx.inject(ack("gw1", "z9hG4bKack2xx"));
    await hx.advance(20_000);
    expect(answers(hx, 200)).toHaveLength(5);
    expect(hx.layer.stats().awaitingAck).toBe(0);
  });

  it("retransmit2xx: no ACK for 64*T1 is reported to the TU (it should BYE)", async () => {
    const { hx, tx } = await invited({ retransmit2xx: true });
    let noAck = 0;
    tx.onNoAck = () => noAck++;
    tx.respond(createResponse(tx.request, 200, "OK", { toTag: "gw1" }));
    await hx.advance(31_999);
    expect(noAck).toBe(0);
    await hx.advance(1);
    expect(noAck).toBe(1);
    expect(answers(hx, 200)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  });

  it("an ACK that matches nothing is passed up without a transaction", async () => {
    const hx = harness();
    const seen: Array<ServerTransaction | undefined> = [];
    hx.layer.onRequest((_r, tx) => seen.push(tx));
    await hx.inject(ack("zz", "z9hG4bKnothing"));
    expect(seen).toEqual([undefined]);
    expect(hx.gw.sent).toHaveLength(0);
  });

  it("a transport error while answering is reported and terminates", async () => {
    const { hx, tx } = await invited();
    const errs: Error[] = [];
    tx.onTransportError = (e) => errs.push(e);
    hx.gw.failSends = true;
    tx.respond(createResponse(tx.request, 180, "Ringing", { toTag: "gw1" }));
    await hx.flush();
    expect(errs).toHaveLength(1);
    expect(tx.state).toBe("terminated");
  });

  it("retransmissions of the INVITE never create a second transaction", async () => {
    const { hx } = await invited();
    for (let i = 0; i < 5; i++) await hx.inject(requestText({ method: "INVITE" }));
    expect(hx.layer.stats().servers).toBe(1);
    expect(sendTimes(hx, isRequest("INVITE"))).toEqual([]);
  });
});
