import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { getHeader, getHeaders } from "../sip/message/index.js";
import type { Pbx } from "./pbx.js";
import { PHONE_SDP, type TestPhone } from "../../test/support/pbx/phone.js";
import { PbxRig } from "../../test/support/pbx/pbx-rig.js";
import { causeFor, q850Reason, Q850 } from "./call-reason.js";

/** RFC 3326 Reason on the CANCELs and BYEs the B2BUA sends, and passed on from the caller's CANCEL. */
describe("call: Reason on CANCEL and BYE (RFC 3326)", () => {
  let rig: PbxRig;
  let pbx: Pbx;
  let a: TestPhone;
  let b: TestPhone;
  let b2: TestPhone;

  beforeEach(async () => {
    rig = new PbxRig({
      extensions: [
        { number: "801", password: "secret801", name: "Alice" },
        { number: "802", password: "secret802", name: "Bob" },
      ],
      dialplan: [{ match: "^80[1-9]$", to: "extension" }],
      ringTimeoutMs: 5000,
    });
    ({ pbx } = rig);
    a = rig.addPhone("198.18.0.11", "801");
    b = rig.addPhone("198.18.0.12", "802");
    b2 = rig.addPhone({ address: "198.18.0.13", port: 5062 }, "802");
    await a.register();
    await b.register();
  });

  afterEach(async () => {
    await rig.close();
  });

  const cancelOf = (p: TestPhone) => p.received.find((r) => r.method === "CANCEL");

  it("the device that lost the race gets CANCEL with 'Call completed elsewhere'", async () => {
    await b2.register();
    b.behaviour = { ringOnly: true };
    b2.behaviour = { answer: true, ringMs: 30 };
    const { res } = await rig.run(a.call("802"));
    expect(res.status).toBe(200);
    a.ack(res);
    await rig.until(() => cancelOf(b) !== undefined);
    expect(getHeader(cancelOf(b)!, "reason")).toBe('SIP;cause=200;text="Call completed elsewhere"');
    expect(cancelOf(b2)).toBeUndefined();
  });

  it("the caller's CANCEL Reason goes on to every ringing device; none is made up when it has none", async () => {
    await b2.register();
    b.behaviour = { ringOnly: true };
    b2.behaviour = { ringOnly: true };
    const p = a.call("802");
    await rig.until(() => a.responses.some((r) => r.status === 180));
    const clients = { values: () => a.tx.clientTransactions() }; // looked up afresh each time
    const inviteTx = [...clients.values()].find((t) => t.method === "INVITE" && t.state === "proceeding");
    a.tx.cancel(inviteTx as never, [{ name: "reason", value: 'SIP;cause=200;text="Call completed elsewhere"' }]);
    expect((await p).res.status).toBe(487);
    await rig.until(() => cancelOf(b) !== undefined && cancelOf(b2) !== undefined);
    for (const dev of [b, b2]) expect(getHeaders(cancelOf(dev)!, "reason")).toEqual(['SIP;cause=200;text="Call completed elsewhere"']);

    // A plain CANCEL: the devices' CANCEL has no Reason.
    b.received.length = 0;
    const p2 = a.call("802");
    await rig.until(() => b.received.some((r) => r.method === "INVITE") && a.responses.filter((r) => r.status === 180).length >= 2);
    const tx2 = [...clients.values()].find((t) => t.method === "INVITE" && t.state === "proceeding");
    a.tx.cancel(tx2 as never);
    expect((await p2).res.status).toBe(487);
    await rig.until(() => cancelOf(b) !== undefined);
    expect(getHeader(cancelOf(b)!, "reason")).toBeUndefined();
  });

  it("a hangup by the gateway (media timeout, lease change, shutdown) sends BYE both ways with a Q.850 Reason naming why", async () => {
    const { res } = await a.call("802");
    a.ack(res);
    await rig.until(() => b.received.some((r) => r.method === "ACK"));
    expect(pbx.hangup("all", "gateway shutting down")).toBe(1);
    await rig.until(() => a.received.some((r) => r.method === "BYE") && b.received.some((r) => r.method === "BYE"));
    for (const p of [a, b]) {
      const bye = p.received.find((r) => r.method === "BYE")!;
      expect(getHeader(bye, "reason")).toBe('Q.850;cause=41;text="gateway shutting down"');
    }
  });

  it("a phone's BYE Reason goes on to the other side", async () => {
    const { res } = await a.call("802");
    a.ack(res);
    await rig.until(() => b.received.some((r) => r.method === "ACK"));
    expect((await a.bye([{ name: "reason", value: 'Q.850;cause=16;text="Normal call clearing"' }])).status).toBe(200);
    await rig.until(() => b.received.some((r) => r.method === "BYE"));
    expect(getHeader(b.received.find((r) => r.method === "BYE")!, "reason")).toBe('Q.850;cause=16;text="Normal call clearing"');
  });

  it("a hangup reason in words maps to its Q.850 cause; the text stays a valid quoted-string", () => {
    expect(causeFor("media timeout (callee)")).toBe(Q850.timerExpiry);
    expect(causeFor("no ACK from caller")).toBe(Q850.timerExpiry);
    expect(causeFor("maximum call length reached")).toBe(Q850.timerExpiry);
    expect(causeFor("lease changed")).toBe(Q850.networkOutOfOrder);
    expect(causeFor("gateway shutting down")).toBe(Q850.temporaryFailure);
    expect(causeFor("hung up by command")).toBe(Q850.normal);
    expect(q850Reason(16, 'a "quoted"\\ \r\nthing').value).toBe('Q.850;cause=16;text="a quoted thing"');
  });
});

describe("call: hold state in its status line and its log story", () => {
  it("a sendonly re-INVITE from the caller shows the call on hold by the caller; sendrecv resumes it", async () => {
    const rig = new PbxRig({ dialplan: [{ match: "^80[1-9]$", to: "extension" }] });
    try {
      const a = rig.addPhone("198.18.0.11", "801");
      const b = rig.addPhone("198.18.0.12", "802");
      await a.register();
      await b.register();
      const { res } = await a.call("802");
      a.ack(res);
      await rig.until(() => b.received.some((r) => r.method === "ACK"));
      const call = [...rig.pbx.calls][0]!;
      expect(call.summary().on_hold).toBeUndefined();
      const sdp = PHONE_SDP("198.18.0.11", 40000);
      const held = await a.reinvite(sdp.replace("a=sendrecv", "a=sendonly"));
      expect(held.status).toBe(200);
      a.ack(held);
      await rig.until(() => b.received.filter((r) => r.method === "ACK").length >= 2);
      expect(call.summary().on_hold).toBe("caller");
      const resumed = await a.reinvite(sdp);
      expect(resumed.status).toBe(200);
      a.ack(resumed);
      expect(call.summary().on_hold).toBeUndefined();
    } finally {
      await rig.close();
    }
  });
});
