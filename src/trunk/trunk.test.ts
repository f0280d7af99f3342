import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CallEvent, TrunkState } from "../events.js";
import type { SipRequest, SipResponse } from "../sip/message/types.js";
import { createRequest, getHeader } from "../sip/message/index.js";
import type { MemoryNetwork } from "../sip/transport.js";
import { TransactionLayer } from "../sip/transaction/layer.js";
import { Dialog } from "../sip/dialog/dialog.js";
import { silentLogger } from "../log.js";
import { PHONE_SDP, type TestPhone } from "../../test/support/pbx/phone.js";
import type { FakeNgn } from "../../test/support/trunk/fake-ngn.js";
import { DOMAIN, GatewayRig, NGN, WAN } from "../../test/support/trunk/gateway-rig.js";

/** The line's INVITE as NTT sends it: the caller named in P-Asserted-Identity, the called number in P-Called-Party-ID. */
const invite = (ngn: FakeNgn) =>
  ngn.invite({
    identity: `"Yamada" <sip:0398765432@${DOMAIN}>, <tel:0398765432>`,
    headers: [{ name: "p-called-party-id", value: `<sip:0312345678@${DOMAIN}>` }],
  });

describe("trunk over the in-memory network (a strict fake NGN)", () => {
  let rig: GatewayRig;
  let net: MemoryNetwork;
  let ngn: FakeNgn;
  let phone: TestPhone;
  let states: TrunkState[];
  let events: CallEvent[];
  let dnd = false;
  let screened: { caller: string; called: string; callId: string }[] = [];

  beforeEach(async () => {
    rig = await GatewayRig.create({
      extensions: [{ number: "801", password: "secret801", name: "Alice" }],
      ringTimeoutMs: 2000,
      dnd: () => dnd,
      screen: (caller, called, callId) => {
        screened.push({ caller, called, callId });
        return caller === "0398765432" && blocked ? { status: 603, reason: "Decline", why: "blocklist", event: "rejected" } : undefined;
      },
      ngn: { strict: true, answer: "early-media" },
    });
    ({ net, ngn, states, events } = rig);
    phone = rig.addPhone("198.18.0.11", "801");
    await phone.register();
    await rig.registerLine();
  });

  afterEach(async () => {
    await rig.close();
    dnd = false;
    blocked = false;
    screened = [];
  });

  let blocked = false;

  it("a screened caller (blocklist) is refused before anything rings: the line hears 603, the call is rejected", async () => {
    blocked = true;
    const { done } = invite(ngn);
    expect((await done).status).toBe(603);
    expect(phone.received.some((r) => r.method === "INVITE")).toBe(false);
    expect(screened).toEqual([{ caller: "0398765432", called: "0312345678", callId: expect.stringMatching(/.+/) }]);
    expect(events.at(-1)).toMatchObject({ type: "rejected", direction: "inbound", from: "0398765432", reason: "603 Decline", call_id: screened[0]!.callId });
  });

  it("DND: the line hears 486, the phone does not ring, and the call is recorded as missed", async () => {
    dnd = true;
    const { done } = invite(ngn);
    expect((await done).status).toBe(486);
    expect(phone.received.some((r) => r.method === "INVITE")).toBe(false);
    expect(events.at(-1)).toMatchObject({ type: "missed", direction: "inbound", reason: "486 Busy Here" });
  });

  it("registers as the NGN wants: Request-URI the domain, From/To the number, no rport, no OPTIONS", () => {
    const reg = ngn.seen.find((r) => r.method === "REGISTER")!;
    expect(reg.uri.host).toBe(DOMAIN);
    expect(getHeader(reg, "from")).toContain(`sip:0312345678@${DOMAIN}`);
    expect(getHeader(reg, "contact")).toBe(`<sip:0312345678@${WAN.address}:5060>`);
    expect(getHeader(reg, "via")).not.toContain("rport");
    expect(getHeader(reg, "expires")).toBe("3600");
    expect(states.at(-1)).toMatchObject({ state: "registered", number: "0312345678", domain: DOMAIN, server: NGN.address });
    expect(ngn.seen.some((r) => r.method === "OPTIONS")).toBe(false);
  });

  it("inbound: rings the phone with the caller's number, 200 echoes Session-Expires, refreshes are answered locally, BYE crosses", async () => {
    const { req, done } = invite(ngn);
    await rig.until(() => phone.received.some((r) => r.method === "INVITE"));
    const inv = phone.received.find((r) => r.method === "INVITE")!;
    expect(getHeader(inv, "from")).toContain("sip:0398765432@");
    expect(getHeader(inv, "from")).toContain("Yamada");
    const ok = await done;
    expect(ok.status).toBe(200);
    expect(getHeader(ok, "session-expires")).toBe("300;refresher=uac");
    expect(getHeader(ok, "require")).toBe("timer");
    expect(getHeader(ok, "contact")).toContain(WAN.address);
    // A reliable 180 came first (the NGN supports 100rel).
    const ringing = ngn.responses.find((r) => r.status === 180)!;
    expect(getHeader(ringing, "require")).toBe("100rel");
    // ACK, then an UPDATE refresh the phone never sees.
    const d = Dialog.asUac(req, ok);
    ngn.tx.sendAck(d.createRequest("ACK", { contact: `<sip:${NGN.address}>`, seq: 1 }), WAN);
    const upd = await ngn.request(d.createRequest("UPDATE", { contact: `<sip:${NGN.address}>`, headers: [{ name: "session-expires", value: "300;refresher=uac" }] }));
    expect(upd.status).toBe(200);
    expect(getHeader(upd, "session-expires")).toContain("300");
    expect(phone.received.some((r) => r.method === "UPDATE")).toBe(false);
    const bye = await ngn.request(d.createRequest("BYE", { contact: `<sip:${NGN.address}>` }));
    expect(bye.status).toBe(200);
    await rig.until(() => phone.received.some((r) => r.method === "BYE"));
    expect(events.map((e) => e.type)).toEqual(["incoming", "answered", "ended"]);
    expect(events[0]).toMatchObject({ direction: "inbound", from: "0398765432", to: "0312345678" });
    // The NGN's BYE: the line's side called, so the caller hung up.
    expect(events[2]).toMatchObject({ type: "ended", hangup_by: "caller" });
  });

  it("inbound: nobody answers and the NGN cancels: a missed call", async () => {
    phone.behaviour = { ringOnly: true };
    const { req, done } = invite(ngn);
    await rig.until(() => ngn.responses.some((r) => r.status === 180));
    const inviteTx = ngn.tx.clientTransactions().find((t) => t.request === req);
    ngn.tx.cancel(inviteTx as never);
    expect((await done).status).toBe(487);
    await rig.until(() => phone.received.some((r) => r.method === "CANCEL"));
    expect(events.at(-1)).toMatchObject({ type: "missed", direction: "inbound" });
  });

  it("drops INVITEs that do not come from the NGN server, unanswered, and counts them (issue 13)", async () => {
    const stranger = new TransactionLayer({ transport: net.transport({ address: "198.18.6.6", port: 5060 }), log: silentLogger(), clock: rig.clock });
    const req = createRequest({ method: "INVITE", uri: `sip:0312345678@${WAN.address}`, from: "<sip:evil@198.18.6.6>", to: "<sip:0312345678@x>", contact: "<sip:198.18.6.6>" });
    const heard: number[] = [];
    stranger.sendRequest(req, WAN, { onResponse: (r) => heard.push(r.status), onTimeout: () => undefined, onTransportError: () => undefined });
    await rig.until(() => rig.trunk.transportStats()?.not_allowed === 1);
    // Silence: a scanner learns nothing (not even a 403), and the phone never rings.
    expect(heard).toEqual([]);
    expect(phone.received.some((r) => r.method === "INVITE")).toBe(false);
    expect(net.log.some((d) => d.to.address === "198.18.6.6")).toBe(false);
    stranger.close();
  });

  it("a WAN scan from outside the NGN server is dropped unanswered and counted, never copied into the log", async () => {
    const warn = vi.spyOn(rig.log, "warn");
    const stranger = new TransactionLayer({ transport: net.transport({ address: "198.18.6.7", port: 5060 }), log: silentLogger(), clock: rig.clock });
    const answers: number[] = [];
    const before = rig.trunk.transportStats()?.not_allowed ?? 0;
    for (let i = 0; i < 40; i++) {
      const req = createRequest({ method: "OPTIONS", uri: `sip:${WAN.address}`, from: "<sip:scan@198.18.6.7>", to: `<sip:${WAN.address}>` });
      stranger.sendRequest(req, WAN, { onResponse: (r) => r.status >= 200 && answers.push(r.status), onTimeout: () => undefined, onTransportError: () => undefined });
    }
    await rig.until(() => rig.trunk.transportStats()?.not_allowed === 40);
    expect(answers).toEqual([]);
    const refusedLines = warn.mock.calls.filter((c) => c[1] === "request from outside the NGN server refused");
    expect(refusedLines.length).toBeLessThanOrEqual(2);
    warn.mockRestore();
    stranger.close();
  });

  it("outbound: the NGN gets sip:<digits>@<server>:5060 from the line's number, PCMU only; 183 is PRACKed; the phone gets 200", async () => {
    const offer = PHONE_SDP("198.18.0.11", 40000).replace("RTP/AVP 0 101", "RTP/AVP 8 0 101").replace("a=rtpmap:0", "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0");
    const { res } = await rig.run(phone.call("0399990000", offer));
    expect(res.status).toBe(200);
    phone.ack(res);
    const inv = ngn.seen.find((r) => r.method === "INVITE")!;
    expect(`${inv.uri.user}@${inv.uri.host}:${inv.uri.port}`).toBe(`0399990000@${NGN.address}:5060`);
    expect(inv.uri.params.size).toBe(0);
    expect(getHeader(inv, "from")).toContain(`sip:0312345678@${DOMAIN}`);
    expect(getHeader(inv, "supported")).toMatch(/100rel/);
    expect(getHeader(inv, "contact")).toBe(`<sip:0312345678@${WAN.address}:5060>`);
    expect(inv.body.toString()).toMatch(/m=audio 40000 RTP\/AVP 0 101/);
    expect(inv.body.toString()).not.toContain("PCMA");
    await rig.until(() => ngn.seen.some((r) => r.method === "PRACK"));
    expect(getHeader(ngn.seen.find((r) => r.method === "PRACK")!, "rack")).toBe("1 1 INVITE");
    await rig.until(() => ngn.seen.some((r) => r.method === "ACK"));
    // Hang up from the phone: the NGN leg gets its BYE.
    expect((await phone.bye()).status).toBe(200);
    await rig.until(() => ngn.seen.some((r) => r.method === "BYE"));
  });

  it("a phone's hold re-INVITE is answered by the gateway; the NGN leg sees nothing", async () => {
    const { res } = await rig.run(phone.call("0399990000"));
    phone.ack(res);
    await rig.until(() => ngn.seen.some((r) => r.method === "ACK"));
    const hold = PHONE_SDP("198.18.0.11", 40000).replace("a=sendrecv", "a=sendonly").replace("o=- 1 1", "o=- 1 2");
    const r2 = await phone.reinvite(hold);
    expect(r2.status).toBe(200);
    expect(r2.body.toString()).toContain("a=recvonly");
    expect(ngn.seen.filter((r) => r.method === "INVITE")).toHaveLength(1);
    const resume = PHONE_SDP("198.18.0.11", 40000).replace("o=- 1 1", "o=- 1 3");
    expect((await phone.reinvite(resume)).body.toString()).toContain("a=sendrecv");
    expect(ngn.seen.filter((r) => r.method === "INVITE")).toHaveLength(1);
  });

  it("a phone that unregisters mid-call still ends with a BYE to the NGN", async () => {
    const { res } = await rig.run(phone.call("0399990000"));
    phone.ack(res);
    await rig.until(() => ngn.seen.some((r) => r.method === "ACK"));
    expect((await phone.register(0)).status).toBe(200);
    await rig.until(() => ngn.seen.some((r) => r.method === "BYE"));
    expect(events.at(-1)).toMatchObject({ type: "ended", reason: "phone 801 unregistered", hangup_by: "gateway" });
  });

  it("outbound: a phone without PCMU gets 488; beyond the line's channels the phone gets 486", async () => {
    const pcmaOnly = PHONE_SDP("198.18.0.11", 40000).replace("RTP/AVP 0 101", "RTP/AVP 8").replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000");
    expect((await phone.call("0399990000", pcmaOnly)).res.status).toBe(488);
    const { res } = await rig.run(phone.call("0399990000"));
    expect(res.status).toBe(200);
    phone.ack(res);
    expect((await phone.call("0399990001")).res.status).toBe(486);
  });
});
