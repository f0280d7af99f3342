/**
 * An ended call is garbage at once: while its dialogs and INVITE transactions linger for
 * 64·T1, what is left answers late requests and retransmitted 2xx as the call did, without
 * holding the call (its legs, SDP, media, closures).
 */
import { afterEach, describe, expect, it } from "vitest";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createResponse, getHeader, setHeader } from "../sip/message/index.js";
import { Dialog } from "../sip/dialog/dialog.js";
import { PHONE_SDP } from "../../test/support/pbx/phone.js";
import { PbxRig, GW } from "../../test/support/pbx/pbx-rig.js";
import type { Call } from "./call.js";

// A full collection on demand, without --expose-gc on the whole test run.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Whether the object behind `ref` survives full collections (WeakRefs clear only between turns). */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  await new Promise((r) => setImmediate(r));
  return ref.deref() === undefined;
}

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
