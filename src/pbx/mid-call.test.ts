/**
 * Relayed re-INVITEs between two phones (R2 review items 3 and 5) on fake time: the ACK of
 * a late-offer re-INVITE, and a re-INVITE its sender CANCELs.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import type { SipRequest } from "../sip/message/types.js";
import { createResponse, cseq, getHeader, setHeader, toAddr } from "../sip/message/index.js";
import type { ServerTransaction } from "../sip/transaction/layer.js";
import { PHONE_SDP, type TestPhone } from "../../test/support/pbx/phone.js";
import { GW, PbxRig } from "../../test/support/pbx/pbx-rig.js";
import { sendRequest, type SentRequest } from "../../test/support/sip/send-request.js";

const A = { address: "198.18.0.11", port: 5060 };
const B = { address: "198.18.0.12", port: 5060 };
const A_CONTACT = `<sip:801@${A.address}:5060>`;
const B_CONTACT = `<sip:802@${B.address}:5060>`;

interface Rig extends PbxRig {
  a: TestPhone;
  b: TestPhone;
}

async function answeredCall(): Promise<Rig> {
  const rig = new PbxRig({ clock: new ManualClock(1_000_000), ringTimeoutMs: 30_000 });
  const a = rig.addPhone(A, "801");
  const b = rig.addPhone(B, "802");
  const regs = [a.register(), b.register()];
  await rig.settle(10);
  for (const r of regs) expect((await r).status).toBe(200);
  const call = a.call("802");
  await rig.settle(10);
  const { res } = await call;
  expect(res.status).toBe(200);
  a.ack(res);
  await rig.settle();
  expect(b.received.some((r) => r.method === "ACK")).toBe(true);
  return Object.assign(rig, { a, b });
}

/** Replace B's handling of in-dialog INVITEs (the rest stays TestPhone's). */
function onBReinvite(b: TestPhone, h: (req: SipRequest, tx: ServerTransaction) => void): void {
  const orig = b.onRequest.bind(b);
  b.tx.onRequest((req, tx) => {
    if (req.method === "INVITE" && toAddr(req).params.get("tag") && tx) {
      b.received.push(req);
      return h(req, tx);
    }
    orig(req, tx);
  });
}

/** Send a request from a phone to the gateway; `res` fills in when the final response comes. */
const send = (p: TestPhone, req: SipRequest): SentRequest => sendRequest(p.tx, req, GW);

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe("MidCall: relayed re-INVITEs", () => {
  it("a late-offer re-INVITE's ACK reaches the other leg with that re-INVITE's CSeq and the answer (R2 item 3)", async () => {
    rig = await answeredCall();
    const { a, b } = rig;
    onBReinvite(b, (req, tx) => {
      const ok = createResponse(req, 200, "OK", { body: Buffer.from(PHONE_SDP(B.address, 42002)), contentType: "application/sdp" });
      setHeader(ok, "contact", B_CONTACT);
      tx.respond(ok);
    });
    const r = send(a, a.dialog!.createRequest("INVITE", { contact: A_CONTACT }));
    await rig.settle(10);
    expect(r.res?.status).toBe(200);
    a.tx.sendAck(a.dialog!.createRequest("ACK", { contact: A_CONTACT, seq: cseq(r.res!).seq, body: Buffer.from(PHONE_SDP(A.address, 40002)) }), GW);
    await rig.settle(10);
    const reinv = b.received.filter((x) => x.method === "INVITE").at(-1)!;
    const ack = b.received.filter((x) => x.method === "ACK").at(-1)!;
    expect(cseq(ack).seq).toBe(cseq(reinv).seq);
    expect(cseq(reinv).seq).toBeGreaterThan(1);
    expect(ack.body.toString()).toContain("m=audio 40002");
  });

  it("a re-INVITE its sender CANCELs: 487 to the sender, CANCEL to the other leg, and the next re-INVITE goes through (R2 item 5)", async () => {
    rig = await answeredCall();
    const { a, b } = rig;
    let first = true;
    onBReinvite(b, (req, tx) => {
      if (first) {
        first = false;
        tx.respond(createResponse(req, 180, "Ringing")); // the layer answers the CANCEL and sends 487 itself
        return;
      }
      const ok = createResponse(req, 200, "OK", { body: req.body, contentType: "application/sdp" });
      setHeader(ok, "contact", B_CONTACT);
      tx.respond(ok);
    });
    const r = send(a, a.dialog!.createRequest("INVITE", { contact: A_CONTACT, body: Buffer.from(PHONE_SDP(A.address, 40004)) }));
    await rig.settle(10);
    a.tx.cancel(r.client);
    await rig.settle(10);
    expect(r.res?.status).toBe(487);
    expect(b.received.some((x) => x.method === "CANCEL") || rig.net.log.some((d) => d.to.address === B.address && d.data.toString().startsWith("CANCEL "))).toBe(true);
    await rig.settle(40_000); // the cancelled transactions run out
    const next = send(a, a.dialog!.createRequest("INVITE", { contact: A_CONTACT, body: Buffer.from(PHONE_SDP(A.address, 40006)) }));
    await rig.settle(10);
    expect(next.res?.status).toBe(200);
  });

  it("a CANCELled re-INVITE answered 200 anyway: the other leg is ACKed, gets the old session back, and later re-INVITEs work", async () => {
    rig = await answeredCall();
    const { a, b } = rig;
    const seen: SipRequest[] = [];
    let held: { req: SipRequest; tx: ServerTransaction } | undefined;
    onBReinvite(b, (req, tx) => {
      seen.push(req);
      if (!held) {
        held = { req, tx };
        tx.onCancel = () => undefined; // B does not honour the CANCEL in time: its 200 crosses it
        tx.respond(createResponse(req, 180, "Ringing"));
        return;
      }
      const ok = createResponse(req, 200, "OK", { body: Buffer.from(PHONE_SDP(B.address, 42000)), contentType: "application/sdp" });
      setHeader(ok, "contact", B_CONTACT);
      tx.respond(ok);
    });
    const firstOffer = b.received.find((x) => x.method === "INVITE")!.body.toString();
    const r = send(a, a.dialog!.createRequest("INVITE", { contact: A_CONTACT, body: Buffer.from(PHONE_SDP(A.address, 40004).replace("o=- 1 1", "o=- 1 2")) }));
    await rig.settle(10);
    a.tx.cancel(r.client);
    await rig.settle(10);
    expect(r.res?.status).toBe(487);
    const ok = createResponse(held!.req, 200, "OK", { body: Buffer.from(PHONE_SDP(B.address, 42004)), contentType: "application/sdp" });
    setHeader(ok, "contact", B_CONTACT);
    held!.tx.respond(ok);
    await rig.settle(10);
    const acks = b.received.filter((x) => x.method === "ACK");
    expect(acks.some((x) => cseq(x).seq === cseq(held!.req).seq)).toBe(true);
    // The re-offer: A's previous SDP (port 40000), with a version above the cancelled offer's.
    const restore = seen[1]!;
    expect(restore.body.toString()).toMatch(/m=audio 40000 /);
    expect(restore.body.toString().replace(/^o=.*$/m, "")).toBe(firstOffer.replace(/^o=.*$/m, ""));
    expect(Number(/^o=\S+ \S+ (\d+)/m.exec(restore.body.toString())![1])).toBeGreaterThan(2);
    expect(b.received.filter((x) => x.method === "ACK").some((x) => cseq(x).seq === cseq(restore).seq)).toBe(true);
    const next = send(a, a.dialog!.createRequest("INVITE", { contact: A_CONTACT, body: Buffer.from(PHONE_SDP(A.address, 40006).replace("o=- 1 1", "o=- 1 3")) }));
    await rig.settle(10);
    expect(next.res?.status).toBe(200);
    expect(getHeader(next.res!, "cseq")).toContain("INVITE");
  });
});
