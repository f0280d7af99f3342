import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../clock.js";
import { silentLogger } from "../log.js";
import type { CallEvent, TrunkState } from "../events.js";
import type { SipRequest, SipResponse } from "../sip/message/types.js";
import { allVias, createRequest, createResponse, getHeader, newTag, setHeader } from "../sip/message/index.js";
import { createMemoryNetwork, type MemoryNetwork } from "../sip/transport.js";
import { TransactionLayer, type ServerTransaction } from "../sip/transaction/layer.js";
import { Dialog } from "../sip/dialog/dialog.js";
import { DigestServer } from "../sip/digest.js";
import { BindingsStore } from "../pbx/bindings-store.js";
import { Registrar } from "../pbx/registrar.js";
import { Lockout } from "../pbx/lockout.js";
import { ExtensionAuth } from "../pbx/auth.js";
import { Dialplan } from "../pbx/dialplan.js";
import { Pbx } from "../pbx/pbx.js";
import { passThroughMedia } from "../pbx/call-media.js";
import { TestPhone, PHONE_SDP, until } from "../pbx/test-phone.js";
import { Trunk } from "./trunk.js";

const GW_LAN = { address: "198.18.0.1", port: 5060 };
const WAN = { address: "198.18.4.2", port: 5060 };
const NGN = { address: "198.18.5.1", port: 5060 };
const DOMAIN = "ntt-east.ne.jp";

const NGN_SDP = `v=0\r\no=- 100 1 IN IP4 198.18.5.9\r\ns=-\r\nc=IN IP4 198.18.5.9\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n`;

/** A strict stand-in for the NGN's P-CSCF, as NGN.md describes it. */
class FakeNgn {
  readonly tx: TransactionLayer;
  readonly seen: SipRequest[] = [];
  readonly responses: SipResponse[] = [];
  dialog?: Dialog;
  constructor(net: MemoryNetwork) {
    this.tx = new TransactionLayer({ transport: net.transport(NGN), log: silentLogger(), clock: systemClock });
    this.tx.onRequest((req, tx, from) => this.onRequest(req, tx, from.port));
  }
  private onRequest(req: SipRequest, tx: ServerTransaction | undefined, fromPort: number): void {
    this.seen.push(req);
    if (!tx) return;
    if (req.method === "REGISTER") {
      if (`${req.uri.scheme}:${req.uri.host}` !== `sip:${DOMAIN}` || req.uri.user) return tx.respond(createResponse(req, 400));
      if (allVias(req).some((v) => v.params.has("rport"))) return tx.respond(createResponse(req, 400));
      if (fromPort !== 5060) return tx.respond(createResponse(req, 403));
      const ok = createResponse(req, 200, "OK", { toTag: newTag() });
      setHeader(ok, "contact", `${getHeader(req, "contact")};expires=3600`);
      return tx.respond(ok);
    }
    if (req.method === "OPTIONS") return tx.respond(createResponse(req, 405));
    if (req.method === "INVITE") {
      if (req.uri.params.size > 0) return tx.respond(createResponse(req, 400));
      const sdp = req.body.toString();
      if (!/m=audio \d*[02468] RTP\/AVP 0( 101)?\r\n/.test(sdp)) return tx.respond(createResponse(req, 488));
      if ((sdp.match(/^c=/gm) ?? []).length !== 1) return tx.respond(createResponse(req, 500));
      const tag = newTag();
      const early = createResponse(req, 183, "Session Progress", { toTag: tag, body: Buffer.from(NGN_SDP) });
      setHeader(early, "require", "100rel");
      setHeader(early, "rseq", "1");
      setHeader(early, "contact", `<sip:${NGN.address}:5060>`);
      tx.respond(early);
      setTimeout(() => {
        const ok = createResponse(req, 200, "OK", { toTag: tag, body: Buffer.from(NGN_SDP) });
        setHeader(ok, "contact", `<sip:${NGN.address}:5060>`);
        setHeader(ok, "session-expires", "300;refresher=uas");
        setHeader(ok, "require", "timer");
        this.dialog = Dialog.asUas(req, tag, "confirmed");
        tx.respond(ok);
      }, 30);
      return;
    }
    tx.respond(createResponse(req, 200));
  }
  request(req: SipRequest): Promise<SipResponse> {
    return new Promise((resolve, reject) =>
      this.tx.sendRequest(req, WAN, {
        onResponse: (res) => {
          this.responses.push(res);
          if (res.status >= 200) resolve(res);
        },
        onTimeout: () => reject(new Error("timeout")),
        onTransportError: (_t, e) => reject(e),
      }),
    );
  }
  invite(extraHeaders: { name: string; value: string }[] = []): { req: SipRequest; done: Promise<SipResponse> } {
    const req = createRequest({
      method: "INVITE",
      uri: `sip:0312345678@${WAN.address}:5060`,
      from: `<sip:0398765432@${DOMAIN}>`,
      to: `<sip:0312345678@${DOMAIN}>`,
      contact: `<sip:${NGN.address}:5060>`,
      body: Buffer.from(NGN_SDP),
      headers: [
        { name: "supported", value: "timer, 100rel" },
        { name: "session-expires", value: "300;refresher=uac" },
        { name: "min-se", value: "300" },
        { name: "p-asserted-identity", value: `"Yamada" <sip:0398765432@${DOMAIN}>, <tel:0398765432>` },
        { name: "p-called-party-id", value: `<sip:0312345678@${DOMAIN}>` },
        ...extraHeaders,
      ],
    });
    return { req, done: this.request(req) };
  }
}

describe("trunk over the in-memory network (a strict fake NGN)", () => {
  let net: MemoryNetwork;
  let dir: string;
  let pbx: Pbx;
  let registrar: Registrar;
  let trunk: Trunk;
  let ngn: FakeNgn;
  let phone: TestPhone;
  let gwTx: TransactionLayer;
  let states: TrunkState[];
  let events: CallEvent[];
  let dnd = false;

  beforeEach(async () => {
    net = createMemoryNetwork();
    dir = mkdtempSync(join(tmpdir(), "hgw-trunk-"));
    const log = silentLogger();
    const clock = systemClock;
    gwTx = new TransactionLayer({ transport: net.transport(GW_LAN), log, clock });
    const extensions = [{ number: "801", password: "secret801", name: "Alice" }];
    const digest = new DigestServer({ realm: "test", clock });
    const lockout = new Lockout({ clock, log });
    const auth = new ExtensionAuth({ extensions, digest, lockout, log, clock });
    registrar = new Registrar({ auth, extensions, realm: "test", store: new BindingsStore({ stateDir: dir, clock, log }), clock, log, digest, lockout });
    events = [];
    pbx = new Pbx({
      tx: gwTx, registrar, auth, media: passThroughMedia, extensions, clock, log,
      dialplan: new Dialplan([{ match: "^0[0-9]+$", to: "trunk" }]),
      localHost: GW_LAN.address, localPort: GW_LAN.port, ringTimeoutMs: 2000,
      onCallEvent: (e) => events.push(e),
    });
    states = [];
    trunk = new Trunk({
      pbx, clock, log, serverPort: 5060, localPort: 5060, registerExpires: 3600, refreshRatio: 0.45, channels: 1, sessionExpires: 300,
      ring: ["801"], ringByNumber: {}, callerIdOf: () => undefined, dnd: () => dnd,
      onState: (s) => states.push(s),
      openTransport: async (local) => net.transport(local),
    });
    pbx.setTrunk(trunk);
    ngn = new FakeNgn(net);
    phone = new TestPhone(net, { address: "198.18.0.11", port: 5060 }, "801", "secret801", GW_LAN, clock);
    await phone.register();
    await trunk.configure({ localAddress: WAN.address, server: NGN.address, domain: DOMAIN, number: "0312345678", additionalNumbers: [] });
    await until(() => trunk.status.state === "registered");
  });

  afterEach(async () => {
    pbx.close();
    await trunk.stop();
    await registrar.close();
    for (const t of [gwTx, ngn.tx, phone.tx]) t.close();
    rmSync(dir, { recursive: true, force: true });
    dnd = false;
  });

  it("DND: the line hears 486, the phone does not ring, and the call is recorded as missed", async () => {
    dnd = true;
    const { done } = ngn.invite();
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
    const { req, done } = ngn.invite();
    await until(() => phone.received.some((r) => r.method === "INVITE"));
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
    await until(() => phone.received.some((r) => r.method === "BYE"));
    expect(events.map((e) => e.type)).toEqual(["incoming", "answered", "ended"]);
    expect(events[0]).toMatchObject({ direction: "inbound", from: "0398765432", to: "0312345678" });
  });

  it("inbound: nobody answers and the NGN cancels: a missed call", async () => {
    phone.behaviour = { ringOnly: true };
    const { req, done } = ngn.invite();
    await until(() => ngn.responses.some((r) => r.status === 180));
    const inviteTx = [...(ngn.tx as unknown as { clients: Map<string, { method: string; state: string; request: SipRequest }> }).clients.values()].find((t) => t.request === req);
    ngn.tx.cancel(inviteTx as never);
    expect((await done).status).toBe(487);
    await until(() => phone.received.some((r) => r.method === "CANCEL"));
    expect(events.at(-1)).toMatchObject({ type: "missed", direction: "inbound" });
  });

  it("refuses INVITEs that do not come from the NGN server", async () => {
    const stranger = new TransactionLayer({ transport: net.transport({ address: "198.18.6.6", port: 5060 }), log: silentLogger(), clock: systemClock });
    const req = createRequest({ method: "INVITE", uri: `sip:0312345678@${WAN.address}`, from: "<sip:evil@198.18.6.6>", to: "<sip:0312345678@x>", contact: "<sip:198.18.6.6>" });
    const res = await new Promise<SipResponse>((resolve) =>
      stranger.sendRequest(req, WAN, { onResponse: (r) => r.status >= 200 && resolve(r), onTimeout: () => undefined, onTransportError: () => undefined }),
    );
    expect(res.status).toBe(403);
    expect(phone.received.some((r) => r.method === "INVITE")).toBe(false);
    stranger.close();
  });

  it("outbound: the NGN gets sip:<digits>@<server>:5060 from the line's number, PCMU only; 183 is PRACKed; the phone gets 200", async () => {
    const offer = PHONE_SDP("198.18.0.11", 40000).replace("RTP/AVP 0 101", "RTP/AVP 8 0 101").replace("a=rtpmap:0", "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0");
    const { res } = await phone.call("0399990000", offer);
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
    await until(() => ngn.seen.some((r) => r.method === "PRACK"));
    expect(getHeader(ngn.seen.find((r) => r.method === "PRACK")!, "rack")).toBe("1 1 INVITE");
    await until(() => ngn.seen.some((r) => r.method === "ACK"));
    // Hang up from the phone: the NGN leg gets its BYE.
    expect((await phone.bye()).status).toBe(200);
    await until(() => ngn.seen.some((r) => r.method === "BYE"));
  });

  it("a phone's hold re-INVITE is answered by the gateway; the NGN leg sees nothing", async () => {
    const { res } = await phone.call("0399990000");
    phone.ack(res);
    await until(() => ngn.seen.some((r) => r.method === "ACK"));
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
    const { res } = await phone.call("0399990000");
    phone.ack(res);
    await until(() => ngn.seen.some((r) => r.method === "ACK"));
    expect((await phone.register(0)).status).toBe(200);
    await until(() => ngn.seen.some((r) => r.method === "BYE"));
    expect(events.at(-1)).toMatchObject({ type: "ended", reason: "phone 801 unregistered" });
  });

  it("outbound: a phone without PCMU gets 488; beyond the line's channels the phone gets 486", async () => {
    const pcmaOnly = PHONE_SDP("198.18.0.11", 40000).replace("RTP/AVP 0 101", "RTP/AVP 8").replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000");
    expect((await phone.call("0399990000", pcmaOnly)).res.status).toBe(488);
    const { res } = await phone.call("0399990000");
    expect(res.status).toBe(200);
    phone.ack(res);
    expect((await phone.call("0399990001")).res.status).toBe(486);
  });
});
