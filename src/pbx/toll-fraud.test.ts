/**
 * Toll-fraud guards (issue 13 items 4 and 8): REFER never crosses a call with a trunk leg
 * (and between extensions only with pbx.allow_transfer), international and premium numbers
 * are refused unless allowed, calls per extension and in total are bounded, and a call ends
 * after pbx.max_call_s. On fake time, over the in-memory network with a fake NGN.
 */
import { afterEach, describe, expect, it } from "vitest";
import { pino } from "pino";
import { ManualClock } from "../clock.js";
import type { SipRequest, SipResponse } from "../sip/message/types.js";
import { Dialog } from "../sip/dialog/dialog.js";
import type { TestPhone } from "../../test/support/pbx/phone.js";
import { GW, EXTENSION_PLAN, TRUNK_PLAN } from "../../test/support/pbx/pbx-rig.js";
import { GatewayRig, NGN, WAN, type GatewayRigOptions } from "../../test/support/trunk/gateway-rig.js";
import { sendRequest } from "../../test/support/sip/send-request.js";
import { tollClass, DEFAULT_PREMIUM_PREFIXES } from "./toll.js";

let rig: GatewayRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function build(o: GatewayRigOptions = {}): Promise<{ r: GatewayRig; a: TestPhone; b: TestPhone }> {
  const r = (rig = await GatewayRig.create({ clock: new ManualClock(1_000_000), settleStepMs: 100, channels: 8, ...o }));
  const a = r.addPhone("198.18.0.11", "801");
  const b = r.addPhone("198.18.0.12", "802");
  const regs = [a.register(), b.register()];
  await r.trunk.configure({ localAddress: WAN.address, server: NGN.address, domain: "ntt-east.ne.jp", number: "0312345678", additionalNumbers: [] });
  await r.settle(10);
  for (const x of regs) expect((await x).status).toBe(200);
  return { r, a, b };
}

/** Place a call from `p` and let fake time run until it is answered or refused. */
async function dial(r: GatewayRig, p: TestPhone, number: string): Promise<SipResponse> {
  const c = p.call(number);
  await r.settle(10);
  return (await c).res;
}

const refer = (d: Dialog, contact: string, to = "sip:0990123456@198.18.5.1"): SipRequest =>
  d.createRequest("REFER", { contact, headers: [{ name: "refer-to", value: `<${to}>` }, { name: "referred-by", value: contact }] });

describe("REFER (transfer) is refused where it would be toll fraud", () => {
  it("a REFER from the line inside an inbound call gets 403 and never reaches the phone", async () => {
    const { r, a } = await build();
    const call = r.ngn.invite({ supported: false });
    await r.settle(10);
    const ok = await call.done;
    expect(ok.status).toBe(200);
    const d = Dialog.asUac(call.req, ok);
    r.ngn.tx.sendAck(d.createRequest("ACK", { contact: `<sip:${NGN.address}>`, seq: 1 }), WAN);
    await r.settle(10);
    const sent = r.ngn.send(refer(d, `<sip:${NGN.address}>`));
    await r.settle(10);
    expect(sent.res?.status).toBe(403);
    expect(a.received.some((m) => m.method === "REFER")).toBe(false);
  });

  it("between extensions: 403 by default, relayed with pbx.allow_transfer", async () => {
    for (const allowTransfer of [false, true]) {
      const { r, a, b } = await build({ dialplan: [...EXTENSION_PLAN, ...TRUNK_PLAN], allowTransfer });
      const res = await dial(r, a, "802");
      expect(res.status).toBe(200);
      a.ack(res);
      await r.settle(10);
      const sent = sendRequest(a.tx, refer(a.dialog!, "<sip:801@198.18.0.11>", "sip:803@198.18.0.1"), GW);
      await r.settle(10);
      expect(sent.res?.status).toBe(allowTransfer ? 200 : 403);
      expect(b.received.some((m) => m.method === "REFER")).toBe(allowTransfer);
      await r.close();
      rig = undefined;
    }
  });
});

describe("international and premium numbers", () => {
  it("classifies Japanese numbers", () => {
    const c = (n: string) => tollClass(n, DEFAULT_PREMIUM_PREFIXES);
    expect(["0101234567890", "0010101234567", "00330101234", "00410312345678", "+12025550100"].map(c)).toEqual(Array(5).fill("international"));
    expect(["0570012345", "0990123456", "0180991234", "0170123456"].map(c)).toEqual(Array(4).fill("premium"));
    expect(["0312345678", "09012345678", "0120123456", "0800123456"].map(c)).toEqual(Array(4).fill("domestic"));
  });

  it("the default dialplan's trunk rule refuses 010…, 00XY… and 0570/0990 with 403; a landline goes out", async () => {
    const { r, a } = await build();
    for (const n of ["0101234567890", "0033010123456", "0570012345", "0990123456"]) {
      const res = await dial(r, a, n);
      expect(res.status, n).toBe(403);
    }
    expect(r.ngn.methods("INVITE")).toHaveLength(0);
    const res = await dial(r, a, "0399990000");
    expect(res.status).toBe(200);
    expect(r.ngn.methods("INVITE")).toHaveLength(1);
  });

  it("a refusal is one rate-limited warn line naming the rule, like every refused call", async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "info" }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const { r, a } = await build({ log });
    for (let i = 0; i < 12; i++) expect((await dial(r, a, "0101234567890")).status).toBe(403);
    const refused = lines.filter((l) => l.msg === "call refused");
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeLessThan(12);
    expect(refused[0]).toMatchObject({ level: 40, status: 403, to: "0101234567890", from: "801", why: expect.stringContaining("toll-fraud rule") });
  });

  it("a dialplan rule with allow_international / allow_premium lets them out", async () => {
    const { r, a } = await build({ dialplan: [{ match: "^010[0-9]+$", to: "trunk", allow_international: true }, { match: "^0570[0-9]+$", to: "trunk", allow_premium: true }, ...TRUNK_PLAN] });
    expect((await dial(r, a, "0101234567890")).status).toBe(200);
    a.ack(a.responses.at(-1)!);
    expect((await dial(r, a, "0570012345")).status).toBe(200);
    expect((await dial(r, a, "0990123456")).status).toBe(403);
  });
});

describe("call limits", () => {
  it("per extension: the call beyond the limit gets 486; in total: 503", async () => {
    const { r, a, b } = await build({ limits: { perExtension: 2, total: 3 } });
    r.ngn.answer = "ring";
    void a.call("0399990001");
    void a.call("0399990002");
    await r.settle(10);
    expect((await dial(r, a, "0399990003")).status).toBe(486);
    void b.call("0399990004");
    await r.settle(10);
    // 801 has 2, 802 has 1: the total of 3 is reached.
    expect((await dial(r, b, "0399990005")).status).toBe(503);
  });

  it("a call that ended no longer counts: the extension may call again, the total frees up", async () => {
    const { r, a, b } = await build({ limits: { perExtension: 1, total: 2 } });
    r.ngn.answer = "ring";
    void a.call("0399990001");
    await r.settle(10);
    expect((await dial(r, a, "0399990002")).status).toBe(486);
    void b.call("0399990003");
    await r.settle(10);
    expect(r.pbx.hangup("all", "test")).toBe(2);
    await r.settle(10);
    for (let i = 0; i < 3; i++) {
      // Each round: both extensions at their limit, then freed again.
      void a.call(`039999100${i}`);
      void b.call(`039999200${i}`);
      await r.settle(10);
      expect((await dial(r, a, `039999300${i}`)).status).toBe(486);
      expect(r.pbx.hangup("all", "test")).toBe(2);
      await r.settle(10);
    }
  });

  it("pbx.max_call_s: an answered call is hung up with BYE on both legs", async () => {
    const { r, a } = await build({ limits: { maxCallMs: 60_000 } });
    const res = await dial(r, a, "0399990000");
    expect(res.status).toBe(200);
    a.ack(res);
    await r.settle(30_000, 1000);
    expect(r.ngn.methods("BYE")).toHaveLength(0);
    await r.settle(31_000, 1000);
    expect(r.ngn.methods("BYE")).toHaveLength(1);
    expect(a.received.some((m) => m.method === "BYE")).toBe(true);
    expect(r.pbx.calls.size).toBe(0);
  });
});
