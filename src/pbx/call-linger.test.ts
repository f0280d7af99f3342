/**
 * An ended call is garbage at once: while its dialogs and INVITE transactions linger for
 * 64·T1, what is left answers late requests and retransmitted 2xx as the call did, without
 * holding the call (its legs, SDP, media, closures).
 */
import { afterEach, describe, expect, it } from "vitest";
import { createResponse, getHeader, parseMessage, setHeader, tagOf } from "../sip/message/index.js";
import { Dialog } from "../sip/dialog/dialog.js";
import { PHONE_SDP } from "../../test/support/pbx/phone.js";
import { PbxRig, GW } from "../../test/support/pbx/pbx-rig.js";
import type { Call } from "./call.js";
import { collected } from "../../test/support/heap.js";

// A full collection on demand, without --expose-gc on the whole test run.

let rig: PbxRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** Two registered phones, 801 calling 802, answered and ACKed; the live call under a WeakRef only. */
async function answered() {
  const r = (rig = new PbxRig());
  const a = r.addPhone("198.18.0.11", "801");
  const b = r.addPhone("198.18.0.12", "802");
  await a.register();
  await b.register();
  const { res } = await a.call("802");
  expect(res.status).toBe(200);
  a.ack(res);
  await r.settle();
  const ref = new WeakRef<Call>([...r.pbx.calls][0]!);
  return { r, a, b, ref };
}

describe("Call: what lingers after it ended", () => {
  it("an ended call is collectable while its dialogs still linger", async () => {
    const { r, a, ref } = await answered();
    expect((await a.bye()).status).toBe(200);
    await r.settle(1000);
    expect(r.pbx.calls.size).toBe(0);
    expect(r.pbx.dialogCount).toBeGreaterThan(0); // still within the linger window
    expect(await collected(ref)).toBe(true);
  });

  it("a late BYE in an ended call's dialog gets 200, another request 481, after the linger 481 for all", async () => {
    const { r, a, b } = await answered();
    expect((await b.bye()).status).toBe(200);
    await r.settle(1000);
    // The caller's BYE crossed the callee's: the dialog still answers it (§15.1.2).
    expect((await a.bye()).status).toBe(200);
    expect((await a.request(a.dialog!.createRequest("INFO", { contact: "<sip:801@198.18.0.11>" }), false)).status).toBe(481);
    await r.settle(40_000, 1000);
    expect(r.pbx.dialogCount).toBe(0);
    expect((await a.bye()).status).toBe(481);
  });

  it("the caller's INVITE retransmitted after the call ended is absorbed (RFC 6026 §7.1), not a new call", async () => {
    const { r, a, b } = await answered();
    const invites = r.net.log.filter((d) => d.from.address === "198.18.0.11" && d.to.address === GW.address && d.data.toString().startsWith("INVITE"));
    const answeredInvite = invites.at(-1)!; // the one with credentials
    expect((await a.bye()).status).toBe(200);
    await r.settle(1000);
    const sentToA = r.net.log.filter((d) => d.to.address === "198.18.0.11").length;
    const invitesToB = b.received.filter((m) => m.method === "INVITE").length;
    r.net.carry({ ...answeredInvite, dropped: false });
    await r.settle(500);
    expect(r.pbx.calls.size).toBe(0);
    expect(b.received.filter((m) => m.method === "INVITE").length).toBe(invitesToB);
    expect(r.net.log.filter((d) => d.to.address === "198.18.0.11").length).toBe(sentToA); // not even a 100
    // Past Timer L the same datagram is a new request again (so the above was absorbed, not lost).
    await r.settle(40_000, 1000);
    r.net.carry({ ...answeredInvite, dropped: false });
    await r.settle(500);
    expect(r.net.log.filter((d) => d.to.address === "198.18.0.11").length).toBeGreaterThan(sentToA);
  });

  it("the callee's retransmitted 2xx after the call ended is ACKed again", async () => {
    const { r, a, b } = await answered();
    const ok = r.net.log.find((d) => d.from.address === "198.18.0.12" && d.to.address === GW.address && d.data.toString().startsWith("SIP/2.0 200") && d.data.toString().includes("INVITE"));
    expect(ok).toBeDefined();
    expect((await a.bye()).status).toBe(200);
    await r.settle(1000);
    const acks = () => b.received.filter((m) => m.method === "ACK").length;
    const before = acks();
    r.net.carry({ ...ok!, dropped: false });
    await r.settle();
    expect(acks()).toBe(before + 1);
  });

  it("a second fork's 2xx after the call ended (another To tag on the answered leg's INVITE) gets its own ACK and a BYE; the answered dialog's 2xx only an ACK", async () => {
    const { r, a, b } = await answered();
    const ok = r.net.log.find((d) => d.from.address === "198.18.0.12" && d.to.address === GW.address && d.data.toString().startsWith("SIP/2.0 200") && d.data.toString().includes("INVITE"));
    expect(ok).toBeDefined();
    const answeredTag = tagOf(getHeader(parseMessage(ok!.data), "to"));
    expect((await a.bye()).status).toBe(200);
    await r.settle(1000);
    const count = (method: string, tag: string) => b.received.filter((m) => m.method === method && tagOf(getHeader(m, "to")) === tag).length;
    const acksBefore = count("ACK", answeredTag);
    // A forking proxy between us and the callee passes on another device's 2xx (RFC 6026 §8.4).
    const forked = Buffer.from(ok!.data.toString("latin1").replace(`;tag=${answeredTag}`, ";tag=fork2"), "latin1");
    r.net.carry({ ...ok!, data: forked, dropped: false });
    await r.settle(500);
    expect(count("ACK", "fork2")).toBe(1);
    expect(count("BYE", "fork2")).toBe(1);
    const bye = b.received.find((m) => m.method === "BYE" && tagOf(getHeader(m, "to")) === "fork2")!;
    expect(getHeader(bye, "call-id")).toBe(getHeader(parseMessage(ok!.data), "call-id"));
    // That fork's 2xx again (our ACK was lost): ACKed again, not BYEd again.
    r.net.carry({ ...ok!, data: forked, dropped: false });
    await r.settle(500);
    expect(count("ACK", "fork2")).toBe(2);
    expect(count("BYE", "fork2")).toBe(1);
    // The answered dialog's own 2xx again: ACKed, not BYEd (its BYE went with the call's end).
    const byesAnswered = count("BYE", answeredTag);
    r.net.carry({ ...ok!, dropped: false });
    await r.settle(500);
    expect(count("ACK", answeredTag)).toBe(acksBefore + 1);
    expect(count("BYE", answeredTag)).toBe(byesAnswered);
  });

  it("a fork that answers only after the call ended gets ACK and BYE, and the call is still collectable", async () => {
    const r = (rig = new PbxRig());
    const a = r.addPhone("198.18.0.11", "801");
    const b = r.addPhone("198.18.0.12", "802");
    await a.register();
    await b.register();
    b.behaviour = { ringOnly: true };
    const call = a.call("802");
    await r.until(() => b.incoming !== undefined);
    const ref = new WeakRef<Call>([...r.pbx.calls][0]!);
    const inc = b.incoming!;
    inc.tx.onCancel = () => undefined; // the callee misses the CANCEL and answers anyway
    r.pbx.hangup("all", "test");
    expect((await r.run(call)).res.status).toBe(480);
    await r.settle(100);
    const ok = createResponse(inc.req, 200, "OK", { toTag: inc.tag, body: Buffer.from(PHONE_SDP("198.18.0.12", 42000)), contentType: "application/sdp" });
    setHeader(ok, "contact", "<sip:802@198.18.0.12>");
    b.dialog = Dialog.asUas(inc.req, inc.tag, "confirmed");
    inc.tx.respond(ok);
    await r.settle(500);
    const methods = b.received.map((m) => m.method);
    expect(methods).toContain("ACK");
    expect(methods).toContain("BYE");
    const bye = b.received.find((m) => m.method === "BYE")!;
    expect(getHeader(bye, "call-id")).toBe(getHeader(inc.req, "call-id"));
    expect(await collected(ref)).toBe(true);
  });
});
