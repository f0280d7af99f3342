/**
 * A second fork's 2xx on a live call's answered B leg (RFC 3261 §13.2.2.4): a proxy
 * downstream forked our INVITE and another device answered too. Its 2xx (another To tag on
 * the same INVITE transaction) makes a dialog of its own, ACKed and BYEd there; the call's
 * dialog keeps its tag, remote target and route set.
 */
import { afterEach, describe, expect, it } from "vitest";
import { getHeader, getHeaders, parseMessage, serializeMessage, setHeader, tagOf } from "../sip/message/index.js";
import type { SipRequest, SipResponse } from "../sip/message/types.js";
import { Dialog } from "../sip/dialog/dialog.js";
import { PHONE_SDP } from "../../test/support/pbx/phone.js";
import { PbxRig, GW } from "../../test/support/pbx/pbx-rig.js";

let rig: PbxRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const FORK_CONTACT = "<sip:802@198.18.0.12:5070;fork=2>";
const FORK_ROUTE = "<sip:proxy.fork.example;lr>";

/** 801 calls 802, answered and ACKed; then a forking proxy passes on another device's 2xx (tag fork2, its own Contact and Record-Route). */
async function forkedAfterAnswer(callerSdp?: string) {
  const r = (rig = new PbxRig());
  const a = r.addPhone("198.18.0.11", "801");
  const b = r.addPhone("198.18.0.12", "802");
  await a.register();
  await b.register();
  const { res } = await a.call("802", callerSdp);
  expect(res.status).toBe(200);
  a.ack(res);
  await r.settle();
  const ok = r.net.log.find((d) => d.from.address === "198.18.0.12" && d.to.address === GW.address && d.data.toString().startsWith("SIP/2.0 200") && d.data.toString().includes("INVITE"))!;
  expect(ok).toBeDefined();
  const answered = parseMessage(ok.data) as SipResponse;
  const answeredTag = tagOf(getHeader(answered, "to"))!;
  const answeredContact = getHeader(answered, "contact")!;
  const forked = parseMessage(ok.data) as SipResponse;
  setHeader(forked, "to", getHeader(forked, "to")!.replace(`;tag=${answeredTag}`, ";tag=fork2"));
  setHeader(forked, "contact", FORK_CONTACT);
  setHeader(forked, "record-route", FORK_ROUTE);
  const fork2xx = { ...ok, data: serializeMessage(forked), dropped: false };
  const inDialog = (method: string, tag: string) => b.received.filter((m) => m.method === method && tagOf(getHeader(m, "to")) === tag);
  return { r, a, b, answeredTag, answeredContact, fork2xx, inDialog };
}

/** Whether a request's Request-URI is the Contact `contact` named (its URI in angle brackets). */
function sentTo(req: SipRequest, contact: string): boolean {
  const uri = /<([^>]*)>/.exec(contact)![1]!;
  return `${req.uri.scheme}:${req.uri.user}@${req.uri.host}${req.uri.port ? `:${req.uri.port}` : ""}` === uri.split(";")[0];
}

describe("Call: another fork's 2xx while the call is up (RFC 3261 §13.2.2.4)", () => {
  it("ACKs and BYEs the other fork in its own dialog; the call stays up on its own dialog", async () => {
    const { r, fork2xx, inDialog, answeredTag } = await forkedAfterAnswer();
    const acksAnswered = inDialog("ACK", answeredTag).length;
    r.net.carry(fork2xx);
    await r.settle(500);
    const [ack] = inDialog("ACK", "fork2");
    const [bye] = inDialog("BYE", "fork2");
    expect(inDialog("ACK", "fork2")).toHaveLength(1);
    expect(inDialog("BYE", "fork2")).toHaveLength(1);
    // In the fork's dialog (§12.1.2): its Contact is the target, its Record-Route the route set.
    expect(sentTo(ack!, FORK_CONTACT)).toBe(true);
    expect(sentTo(bye!, FORK_CONTACT)).toBe(true);
    expect(getHeaders(bye!, "route")).toEqual([FORK_ROUTE]);
    expect(getHeader(bye!, "cseq")).toMatch(/ BYE$/);
    // The call's own dialog: neither ACKed again nor BYEd, and the call is still up.
    expect(inDialog("ACK", answeredTag)).toHaveLength(acksAnswered);
    expect(inDialog("BYE", answeredTag)).toHaveLength(0);
    expect(r.pbx.calls.size).toBe(1);
  });

  it("re-ACKs a retransmission of the other fork's 2xx without a second BYE", async () => {
    const { r, fork2xx, inDialog, answeredTag } = await forkedAfterAnswer();
    r.net.carry(fork2xx);
    await r.settle(500);
    r.net.carry({ ...fork2xx });
    await r.settle(500);
    expect(inDialog("ACK", "fork2")).toHaveLength(2);
    expect(inDialog("BYE", "fork2")).toHaveLength(1);
    expect(inDialog("BYE", answeredTag)).toHaveLength(0);
    expect(r.pbx.calls.size).toBe(1);
  });

  it("the call's re-INVITE and BYE still reach the answered device's dialog and target", async () => {
    const { r, a, fork2xx, inDialog, answeredTag, answeredContact } = await forkedAfterAnswer();
    r.net.carry(fork2xx);
    await r.settle(500);
    expect((await r.run(a.reinvite(PHONE_SDP("198.18.0.11", 40100)))).status).toBe(200);
    const [reinvite] = inDialog("INVITE", answeredTag);
    expect(reinvite).toBeDefined();
    expect(sentTo(reinvite!, answeredContact)).toBe(true);
    expect(getHeaders(reinvite!, "route")).toEqual([]);
    expect((await r.run(a.bye())).status).toBe(200);
    await r.settle(500);
    const [bye] = inDialog("BYE", answeredTag);
    expect(bye).toBeDefined();
    expect(sentTo(bye!, answeredContact)).toBe(true);
    expect(getHeaders(bye!, "route")).toEqual([]);
    expect(inDialog("BYE", "fork2")).toHaveLength(1);
  });

  it("a retransmission of the other fork's 2xx after the call ended is ACKed again, not BYEd again", async () => {
    const { r, a, fork2xx, inDialog } = await forkedAfterAnswer();
    r.net.carry(fork2xx);
    await r.settle(500);
    expect((await r.run(a.bye())).status).toBe(200);
    await r.settle(500);
    expect(r.pbx.calls.size).toBe(0);
    r.net.carry({ ...fork2xx });
    await r.settle(500);
    expect(inDialog("ACK", "fork2")).toHaveLength(2);
    expect(inDialog("BYE", "fork2")).toHaveLength(1);
  });

  it("late offer: the other fork's ACK answers its 2xx's offer, refusing every stream (§13.2.2.4)", async () => {
    const { r, fork2xx, inDialog } = await forkedAfterAnswer("");
    r.net.carry(fork2xx);
    await r.settle(500);
    const [ack] = inDialog("ACK", "fork2");
    expect(ack).toBeDefined();
    const answer = ack!.body.toString();
    expect(answer).toMatch(/^m=audio 0 /m);
    expect(answer).not.toMatch(/^m=audio [1-9]/m);
    expect(inDialog("BYE", "fork2")).toHaveLength(1);
  });

  it("a BYE from the other fork's dialog (crossing ours) gets 200 and does not end the call", async () => {
    const { r, a, b, fork2xx } = await forkedAfterAnswer();
    r.net.carry(fork2xx);
    await r.settle(500);
    const fork = Dialog.asUas(b.incoming!.req, "fork2", "confirmed");
    const bye = fork.createRequest("BYE", { contact: FORK_CONTACT });
    expect((await r.run(b.request(bye, false))).status).toBe(200);
    await r.settle(500);
    expect(r.pbx.calls.size).toBe(1);
    expect(a.received.filter((m) => m.method === "BYE")).toHaveLength(0);
  });
});
