/**
 * The trunk leg's mid-call behaviour on fake time: the whole gateway path (Trunk, Pbx, Call,
 * MidCall, NgnSide) over the in-memory network, a scripted NGN and a TestPhone, all on one
 * ManualClock so session timers and RFC 3262 retransmissions run without sleeping.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import type { SipResponse } from "../sip/message/types.js";
import { createResponse, getHeader, getHeaders, newTag, setHeader } from "../sip/message/index.js";
import type { TransactionLayer } from "../sip/transaction/layer.js";
import { Dialog } from "../sip/dialog/dialog.js";
import { PHONE_SDP, type TestPhone } from "../../test/support/pbx/phone.js";
import { GW } from "../../test/support/pbx/pbx-rig.js";
import { NgnSide } from "./ngn-side.js";
import { GatewayRig, NGN, NGN_SDP, WAN } from "../../test/support/trunk/gateway-rig.js";

const PHONE = { address: "198.18.0.11", port: 5060 };
/** The same SDP with its o= version raised: a new offer, not a refresh. */
const bump = (sdp: string) => sdp.replace(/^(o=\S+ \S+ )(\d+)/m, (_m, head: string, v: string) => `${head}${Number(v) + 1}`);
const sdpV = (v: number) => NGN_SDP.replace("o=- 100 1 ", `o=- 100 ${v} `);

interface Rig extends GatewayRig {
  phone: TestPhone;
}

/** The whole gateway on one ManualClock, the phone and the line registered; the NGN answers INVITEs as each test scripts. */
async function rig(): Promise<Rig> {
  const r = await GatewayRig.create({
    clock: new ManualClock(1_000_000),
    extensions: [{ number: "801", password: "secret801", name: "Alice" }],
    ringTimeoutMs: 120_000,
    settleStepMs: 250,
    ngn: { answer: "ok" },
  });
  const phone = r.addPhone(PHONE, "801");
  const reg = phone.register();
  await r.settle(10);
  expect((await reg).status).toBe(200);
  await r.registerLine();
  expect(r.trunk.status.state).toBe("registered");
  return Object.assign(r, { phone });
}

/** An inbound call from the NGN, answered by the phone and ACKed: the NGN's dialog. */
async function inboundCall(r: Rig): Promise<{ d: Dialog; ok: SipResponse }> {
  const req = r.ngn.inviteRequest();
  const res = r.ngn.send(req);
  await r.settle(100);
  expect(res.res?.status).toBe(200);
  const d = Dialog.asUac(req, res.res!);
  r.ngn.tx.sendAck(d.createRequest("ACK", { contact: `<sip:${NGN.address}:5060>`, seq: 1 }), WAN);
  await r.settle();
  return { d, ok: res.res! };
}

/** An outbound call whose NGN answers with a reliable 183 + SDP, then a 200 WITHOUT SDP (RFC 3262 §5). */
async function outboundCall(r: Rig): Promise<{ d: Dialog }> {
  let d: Dialog | undefined;
  r.ngn.onInvite = (req, tx) => {
    const tag = newTag();
    const early = createResponse(req, 183, "Session Progress", { toTag: tag, body: Buffer.from(NGN_SDP), contentType: "application/sdp" });
    setHeader(early, "require", "100rel");
    setHeader(early, "rseq", "1");
    setHeader(early, "contact", `<sip:${NGN.address}:5060>`);
    tx.respond(early);
    r.clock.setTimeout(() => {
      const ok = createResponse(req, 200, "OK", { toTag: tag });
      setHeader(ok, "contact", `<sip:${NGN.address}:5060>`);
      setHeader(ok, "session-expires", "300;refresher=uas");
      setHeader(ok, "require", "timer");
      d = Dialog.asUas(req, tag, "confirmed");
      tx.respond(ok);
    }, 50);
  };
  const call = r.phone.call("0399990000");
  await r.settle(200);
  const { res } = await call;
  expect(res.status).toBe(200);
  r.phone.ack(res);
  await r.settle();
  expect(d).toBeDefined();
  return { d: d! };
}

const ngnContact = `<sip:${NGN.address}:5060>`;

let r: Rig | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

describe("NgnSide: session timers (RFC 4028 §10)", () => {
  it("a re-INVITE from the NGN with new SDP, relayed to the phone, re-arms our timer from the Session-Expires in our 2xx", async () => {
    r = await rig();
    const { d } = await inboundCall(r);
    await r.settle(150_000);
    const reinv = d.createRequest("INVITE", { contact: ngnContact, body: Buffer.from(sdpV(2)), headers: [{ name: "session-expires", value: "300;refresher=uac" }, { name: "supported", value: "timer" }] });
    const got = r.ngn.send(reinv);
    await r.settle(100);
    const relayed = r.phone.received.filter((q) => q.method === "INVITE");
    expect(relayed).toHaveLength(2); // it did reach the phone…
    expect(getHeader(relayed[1]!, "session-expires")).toBeUndefined(); // …without the NGN's timer, which is the trunk leg's own
    const ok = got.res!;
    expect(ok.status).toBe(200);
    expect(getHeaders(ok, "session-expires")).toEqual(["300;refresher=uac"]);
    expect(getHeader(ok, "require")).toBe("timer");
    expect(ok.headers.filter((h) => h.name === "allow").map((h) => h.value)).toEqual(["INVITE, ACK, BYE, CANCEL, PRACK, UPDATE"]);
    r.ngn.tx.sendAck(d.createRequest("ACK", { contact: ngnContact, seq: 2 }), WAN);
    // 268 s after the answer, 118 s after the refresh: the call must still be up.
    await r.settle(125_000);
    expect(r.ngn.methods("BYE")).toHaveLength(0);
    expect(r.events.map((e) => e.type)).not.toContain("ended");
    // Without a further refresh the timer fires 268 s after the refresh (RFC 4028 §10 margin).
    await r.settle(150_000);
    expect(r.ngn.methods("BYE")).toHaveLength(1);
  });

  it("an UPDATE from the NGN with new SDP, relayed to the phone, is a refresh too", async () => {
    r = await rig();
    const { d } = await inboundCall(r);
    await r.settle(150_000);
    const got = r.ngn.send(d.createRequest("UPDATE", { contact: ngnContact, body: Buffer.from(sdpV(2)), headers: [{ name: "session-expires", value: "300;refresher=uac" }] }));
    await r.settle(100);
    expect(r.phone.received.some((q) => q.method === "UPDATE")).toBe(true);
    expect(got.res?.status).toBe(200);
    expect(getHeader(got.res!, "session-expires")).toBe("300;refresher=uac");
    await r.settle(125_000);
    expect(r.ngn.methods("BYE")).toHaveLength(0);
  });

  it("outbound: the version of a reliable 183's SDP makes the NGN's unchanged re-INVITE a refresh, answered here with our SDP", async () => {
    r = await rig();
    const { d } = await outboundCall(r);
    const phoneInvites = r.phone.received.filter((q) => q.method === "INVITE").length;
    const reinv = d.createRequest("INVITE", { contact: ngnContact, body: Buffer.from(NGN_SDP), headers: [{ name: "session-expires", value: "300;refresher=uas" }] });
    const got = r.ngn.send(reinv);
    await r.settle(100);
    expect(got.res?.status).toBe(200);
    expect(got.res!.body.toString()).toMatch(/m=audio 40000 RTP\/AVP 0/);
    expect(r.phone.received.filter((q) => q.method === "INVITE")).toHaveLength(phoneInvites);
  });

  it("an NGN offer the phone refused is still a new offer when the NGN sends it again (not answered here as a refresh)", async () => {
    r = await rig();
    const rg = r;
    const { d } = await inboundCall(rg);
    let updates = 0;
    rg.phone.tx.onRequest((req, tx) => {
      rg.phone.received.push(req);
      if (!tx) return;
      if (req.method === "UPDATE" && ++updates === 1) return tx.respond(createResponse(req, 488, "Not Acceptable Here"));
      tx.respond(createResponse(req, 200, "OK", { body: req.method === "UPDATE" ? Buffer.from(PHONE_SDP(PHONE.address, 42000)) : undefined, contentType: "application/sdp" }));
    });
    const first = rg.ngn.send(d.createRequest("UPDATE", { contact: ngnContact, body: Buffer.from(sdpV(2)) }));
    await rg.settle(100);
    expect(first.res?.status).toBe(488);
    const again = rg.ngn.send(d.createRequest("UPDATE", { contact: ngnContact, body: Buffer.from(sdpV(2)) }));
    await rg.settle(100);
    expect(updates).toBe(2);
    expect(again.res?.status).toBe(200);
  });

  it("an UPDATE with unchanged SDP is a refresh answered with our last SDP (RFC 3311 §5.2)", async () => {
    r = await rig();
    const { d } = await inboundCall(r);
    const upd = d.createRequest("UPDATE", { contact: ngnContact, body: Buffer.from(NGN_SDP), headers: [{ name: "session-expires", value: "300;refresher=uac" }] });
    const got = r.ngn.send(upd);
    await r.settle(100);
    expect(got.res?.status).toBe(200);
    expect(got.res!.body.toString()).toMatch(/^m=audio 42000 RTP\/AVP 0/m);
    expect(getHeader(got.res!, "content-type")).toBe("application/sdp");
    expect(getHeader(got.res!, "session-expires")).toBe("300;refresher=uac");
    expect(r.phone.received.some((q) => q.method === "UPDATE")).toBe(false);
  });
});

describe("NgnSide: what reaches the NGN from the phone", () => {
  it("OPTIONS, INFO, MESSAGE, REFER, NOTIFY and unknown methods are answered on the phone side; the NGN gets none", async () => {
    r = await rig();
    await inboundCall(r);
    const d = r.phone.dialog!;
    const contact = `<sip:801@${PHONE.address}:5060>`;
    const ask = async (method: string, body?: string, ctype?: string) => {
      const p = r!.phone.request(d.createRequest(method, { contact, body: body ? Buffer.from(body) : undefined, contentType: ctype }), false);
      await r!.settle(100);
      return p;
    };
    const before = r.ngn.seen.length;
    const opt = await ask("OPTIONS");
    expect(opt.status).toBe(200);
    expect(getHeader(opt, "allow")).toContain("INVITE");
    expect((await ask("INFO", "Signal=5\r\nDuration=160\r\n", "application/dtmf-relay")).status).toBe(200);
    expect((await ask("INFO", "<x/>", "application/media_control+xml")).status).toBe(415);
    for (const m of ["MESSAGE", "REFER", "NOTIFY", "SUBSCRIBE"]) {
      const res = await ask(m);
      expect(res.status, m).toBe(405);
      expect(getHeader(res, "allow"), m).toBeDefined();
    }
    expect((await ask("FOO")).status).toBe(501);
    expect(r.ngn.seen.slice(before)).toEqual([]);
  });

  it("the phone's own session refresh (UPDATE without SDP, re-INVITE with unchanged SDP) is answered here and keeps the phone the refresher", async () => {
    r = await rig();
    await inboundCall(r);
    const d = r.phone.dialog!;
    const contact = `<sip:801@${PHONE.address}:5060>`;
    const before = r.ngn.seen.length;
    const upd = r.phone.request(d.createRequest("UPDATE", { contact, headers: [{ name: "session-expires", value: "1800;refresher=uac" }, { name: "supported", value: "timer" }] }), false);
    await r.settle(100);
    const u = await upd;
    expect(u.status).toBe(200);
    expect(getHeader(u, "session-expires")).toBe("1800;refresher=uac");
    expect(u.body.length).toBe(0);
    const lastSdp = r.phone.received.find((q) => q.method === "INVITE")!.body.toString();
    const again = r.phone.request(d.createRequest("INVITE", { contact, body: Buffer.from(PHONE_SDP(PHONE.address, 42000)), headers: [{ name: "session-expires", value: "1800;refresher=uac" }] }), false);
    await r.settle(100);
    const re = await again;
    expect(re.status).toBe(200);
    // Nothing changed, so neither did our SDP or its version (RFC 3264 §8).
    expect(re.body.toString()).toBe(lastSdp);
    r.phone.tx.sendAck(d.createRequest("ACK", { contact, seq: Number(getHeader(re, "cseq")!.split(" ")[0]) }), GW);
    await r.settle();
    expect(r.ngn.seen.slice(before)).toEqual([]);
  });
});

  it("a phone adding video to a trunk call gets an answer with its m-lines, the video refused with port 0 (RFC 3264 §6)", async () => {
    r = await rig();
    await inboundCall(r);
    const d = r.phone.dialog!;
    const contact = `<sip:801@${PHONE.address}:5060>`;
    const withVideo = PHONE_SDP(PHONE.address, 42000) + "m=video 42002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
    const before = r.ngn.seen.length;
    const p = r.phone.request(d.createRequest("INVITE", { contact, body: Buffer.from(bump(withVideo)), contentType: "application/sdp" }), false);
    await r.settle(100);
    const res = await p;
    expect(res.status).toBe(200);
    const lines = res.body.toString().match(/^m=.*$/gm)!;
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^m=audio [1-9]/);
    expect(lines[1]).toMatch(/^m=video 0 RTP\/AVP/);
    r.phone.tx.sendAck(d.createRequest("ACK", { contact, seq: Number(getHeader(res, "cseq")!.split(" ")[0]) }), GW);
    await r.settle();
    expect(r.ngn.seen.slice(before)).toEqual([]);
  });

describe("NgnSide: reliable provisionals toward the NGN (RFC 3262 §3)", () => {
  /** The phone rings reliably-not (180), then sends early media (183 + SDP) and never answers. */
  function earlyMediaPhone(rg: Rig): void {
    rg.phone.tx.onRequest((req, tx) => {
      rg.phone.received.push(req);
      if (!tx || req.method !== "INVITE") return tx?.respond(createResponse(req, 200));
      const tag = newTag();
      tx.respond(createResponse(req, 180, "Ringing", { toTag: tag }));
      rg.clock.setTimeout(() => tx.respond(createResponse(req, 183, "Session Progress", { toTag: tag, body: Buffer.from(PHONE_SDP(PHONE.address, 42000)), contentType: "application/sdp" })), 100);
      tx.onCancel = () => tx.respond(createResponse(req, 487, undefined, { toTag: tag }));
    });
  }

  it("a 183 after an un-PRACKed reliable 180 goes unreliably, and reliably (next RSeq) once the PRACK comes", async () => {
    r = await rig();
    earlyMediaPhone(r);
    const req = r.ngn.inviteRequest();
    r.ngn.send(req);
    await r.settle(300);
    const ringing = r.ngn.responses.filter((x) => x.status === 180);
    expect(getHeader(ringing[0]!, "require")).toBe("100rel");
    const rseq = Number(getHeader(ringing[0]!, "rseq"));
    const early = r.ngn.responses.filter((x) => x.status === 183);
    expect(early.length).toBeGreaterThan(0);
    expect(early.every((x) => getHeader(x, "rseq") === undefined)).toBe(true);
    // PRACK the 180: the 183 follows, reliable, with the next RSeq.
    const d = Dialog.asUac(req, ringing[0]!);
    const prack = r.ngn.send(d.createRequest("PRACK", { contact: ngnContact, headers: [{ name: "rack", value: `${rseq} 1 INVITE` }] }));
    await r.settle(100);
    expect(prack.res?.status).toBe(200);
    const reliable183 = r.ngn.responses.filter((x) => x.status === 183 && getHeader(x, "rseq") !== undefined);
    expect(reliable183.length).toBeGreaterThan(0);
    expect(Number(getHeader(reliable183[0]!, "rseq"))).toBe(rseq + 1);
    expect(reliable183[0]!.body.toString()).toContain("m=audio");
    // And never two reliable ones outstanding: no RSeq beyond rseq+1 before its PRACK.
    await r.settle(2_000);
    expect(r.ngn.responses.every((x) => getHeader(x, "rseq") === undefined || Number(getHeader(x, "rseq")) <= rseq + 1)).toBe(true);
  });

  it("the 200 waits for the PRACK of a reliable 183 with SDP (RFC 3262 §3), then goes; the 183 is retransmitted meanwhile", async () => {
    r = await rig();
    const rg = r;
    rg.phone.tx.onRequest((req, tx) => {
      rg.phone.received.push(req);
      if (!tx || req.method !== "INVITE") return tx?.respond(createResponse(req, 200));
      const tag = newTag();
      const sdp = Buffer.from(PHONE_SDP(PHONE.address, 42000));
      tx.respond(createResponse(req, 183, "Session Progress", { toTag: tag, body: sdp, contentType: "application/sdp" }));
      rg.clock.setTimeout(() => {
        const ok = createResponse(req, 200, "OK", { toTag: tag, body: sdp, contentType: "application/sdp" });
        setHeader(ok, "contact", `<sip:801@${PHONE.address}>`);
        tx.respond(ok);
      }, 50);
    });
    const req = rg.ngn.inviteRequest();
    const got = rg.ngn.send(req);
    await rg.settle(1_200);
    expect(got.res).toBeUndefined();
    const early = rg.ngn.responses.filter((x) => x.status === 183);
    expect(early.length).toBeGreaterThan(1);
    expect(getHeader(early[0]!, "require")).toBe("100rel");
    expect(early[0]!.body.toString()).toContain("m=audio");
    const d = Dialog.asUac(req, early[0]!);
    const prack = rg.ngn.send(d.createRequest("PRACK", { contact: ngnContact, headers: [{ name: "rack", value: `${getHeader(early[0]!, "rseq")} 1 INVITE` }] }));
    await rg.settle(100);
    expect(prack.res?.status).toBe(200);
    expect(got.res?.status).toBe(200);
    const sent = rg.ngn.responses.length;
    await rg.settle(3_000);
    // No 183 retransmissions after the PRACK.
    expect(rg.ngn.responses.slice(sent).filter((x) => x.status === 183)).toEqual([]);
  });

  it("no PRACK within 64*T1: the NGN's INVITE gets a 5xx and the call ends cleanly (the phone stops ringing)", async () => {
    r = await rig();
    r.phone.behaviour = { ringOnly: true };
    const req = r.ngn.inviteRequest();
    const got = r.ngn.send(req);
    await r.settle(31_000);
    expect(got.res).toBeUndefined();
    await r.settle(2_000);
    expect(got.res?.status).toBeGreaterThanOrEqual(500);
    expect(got.res!.status).toBeLessThan(600);
    expect(r.phone.received.some((q) => q.method === "CANCEL")).toBe(true);
    expect(r.events.at(-1)).toMatchObject({ type: "missed", direction: "inbound" });
  });
});

describe("NgnSide: headers toward the NGN", () => {
  it("adds no Allow of its own to the B-leg INVITE and offers its own list as `allow` (R1 item 12)", () => {
    const side = new NgnSide({ tx: {} as TransactionLayer, host: WAN.address, port: 5060, clock: new ManualClock(), log: silentLogger(), sessionExpires: 300 });
    expect(side.inviteHeaders().filter((h) => h.name === "allow")).toEqual([]);
    expect(side.allow).toBe("INVITE, ACK, BYE, CANCEL, PRACK, UPDATE");
    expect(side.relays("OPTIONS")).toBe(false);
    expect(side.relays("UPDATE")).toBe(true);
  });
});
