import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CallEvent } from "../events.js";
import { callId, createRequest, getHeader, fromAddr, maxForwards, toAddr } from "../sip/message/index.js";
import type { SipResponse } from "../sip/message/types.js";
import type { MemoryNetwork } from "../sip/transport.js";
import type { TransactionLayer } from "../sip/transaction/layer.js";
import type { Registrar } from "./registrar.js";
import type { Pbx } from "./pbx.js";
import { passThroughMedia, type CallMediaFactory } from "./call-media.js";
import type { CallTarget, SipSide } from "./call.js";
import { PHONE_SDP, type TestPhone } from "../../test/support/pbx/phone.js";
import { GW, PbxRig, TRUNK_PLAN } from "../../test/support/pbx/pbx-rig.js";

describe("PBX: registrar + B2BUA over the in-memory network", () => {
  let rig: PbxRig;
  let pbx: Pbx;
  let registrar: Registrar;
  let a: TestPhone;
  let b: TestPhone;
  let b2: TestPhone;
  let events: CallEvent[];
  /** Which sides the calls' media were told moved (CallMedia.peerMoved). */
  let moves: string[];
  /** SDP passes through unchanged, as passThroughMedia, and moves are recorded. */
  const media: CallMediaFactory = {
    create: async () => ({ fromSide: (_from, sdp) => sdp, release: () => undefined, peerMoved: (side) => void moves.push(side) }),
  };

  /** 801 and 802 registered, 801 calling 802, answered and ACKed through. */
  const answered = async (): Promise<void> => {
    await a.register();
    await b.register();
    const { res } = await a.call("802");
    a.ack(res);
    await rig.until(() => b.received.some((r) => r.method === "ACK"));
  };

  beforeEach(async () => {
    moves = [];
    rig = new PbxRig({
      media,
      extensions: [
        { number: "801", password: "secret801", name: "Alice" },
        { number: "802", password: "secret802", name: "Bob" },
      ],
      lockout: { maxFailures: 3, lockMs: 60_000 },
      dialplan: [
        { match: "^80[1-9]$", to: "extension" },
        { match: "^0120$", to: "802" },
        { match: "^0[0-9]+$", to: "trunk" },
      ],
      ringTimeoutMs: 400,
    });
    ({ pbx, registrar, events } = rig);
    a = rig.addPhone("198.18.0.11", "801");
    b = rig.addPhone("198.18.0.12", "802");
    b2 = rig.addPhone({ address: "198.18.0.13", port: 5062 }, "802");
  });

  afterEach(async () => {
    await rig.close();
  });

  it("registers with digest and refuses a wrong password with 403", async () => {
    const r = await a.register();
    expect(`${r.status} ${r.reason}`).toBe("200 OK");
    expect(registrar.lookup("801")).toHaveLength(1);
    const bad = rig.addPhone("198.18.0.20", "802", "wrong");
    expect((await bad.register()).status).toBe(403);
  });

  it("carries a call 801 → 802: separate Call-IDs, Max-Forwards decremented, caller named, BYE both ways", async () => {
    await a.register();
    await b.register();
    const { res, invite } = await a.call("802");
    expect(res.status).toBe(200);
    expect(a.responses.some((r) => r.status === 407)).toBe(true);
    expect(a.responses.some((r) => r.status === 180)).toBe(true);
    a.ack(res);
    const inv = b.received.find((r) => r.method === "INVITE")!;
    expect(callId(inv)).not.toBe(callId(invite));
    expect(maxForwards(inv)).toBe(69);
    expect(fromAddr(inv).uri.user).toBe("801");
    expect(fromAddr(inv).displayName).toBe("Alice");
    expect(inv.body.toString()).toContain("m=audio 40000");
    expect(res.body.toString()).toContain("m=audio 42000");
    await rig.until(() => b.received.some((r) => r.method === "ACK"));
    expect(pbx.calls.size).toBe(1);
    const byeRes = await a.bye();
    expect(byeRes.status).toBe(200);
    await rig.until(() => b.received.some((r) => r.method === "BYE"));
    expect(pbx.calls.size).toBe(0);
    expect(events.map((e) => e.type)).toEqual(["incoming", "answered", "ended"]);
    expect(events[2].reason).toBe("caller hung up");
    expect(events[2].hangup_by).toBe("caller");
  });

  it("hangs up from the callee side too", async () => {
    await answered();
    expect((await b.bye()).status).toBe(200);
    await rig.until(() => a.received.some((r) => r.method === "BYE"));
    expect(events.at(-1)?.reason).toBe("callee hung up");
    expect(events.at(-1)?.hangup_by).toBe("callee");
  });

  it("a call hung up by the gateway (a command) says so in hangup_by, whatever the reason text", async () => {
    await answered();
    expect(pbx.hangup("all", "caller hung up (says the command)")).toBe(1);
    await rig.until(() => a.received.some((r) => r.method === "BYE") && b.received.some((r) => r.method === "BYE"));
    expect(events.at(-1)).toMatchObject({ type: "ended", reason: "caller hung up (says the command)", hangup_by: "gateway" });
  });

  it("forks to every device of an extension; first answer wins, the others are cancelled", async () => {
    await a.register();
    await b.register();
    await b2.register();
    b.behaviour = { ringOnly: true };
    b2.behaviour = { answer: true, ringMs: 30 };
    const { res } = await rig.run(a.call("802"));
    expect(res.status).toBe(200);
    a.ack(res);
    await rig.until(() => b.received.some((r) => r.method === "CANCEL"));
    expect(b2.received.some((r) => r.method === "ACK")).toBe(true);
  });

  it("busy callee: 486 reaches the caller", async () => {
    await a.register();
    await b.register();
    b.behaviour = { reject: 486 };
    const { res } = await a.call("802");
    expect(res.status).toBe(486);
    expect(events.at(-1)?.type).toBe("rejected");
  });

  it("no answer: 480 after the ring timeout and the callee is cancelled", async () => {
    await a.register();
    await b.register();
    b.behaviour = { ringOnly: true };
    const { res } = await rig.run(a.call("802"));
    expect(res.status).toBe(480);
    await rig.until(() => b.received.some((r) => r.method === "CANCEL"));
    expect(events.at(-1)?.type).toBe("missed");
  });

  it("unknown number 404, unregistered extension 480, no trunk configured 403 (permanent), mapped number rings its user", async () => {
    await a.register();
    expect((await a.call("999")).res.status).toBe(404);
    expect((await a.call("803")).res.status).toBe(404);
    expect((await a.call("802")).res.status).toBe(480);
    expect((await a.call("0312345678")).res.status).toBe(403);
    await b.register();
    const { res } = await a.call("0120");
    expect(res.status).toBe(200);
    a.ack(res);
  });

  it("answers out-of-dialog requests with a To tag; 420 with Unsupported for a Require it does not do", async () => {
    const ask = (method: string, headers: { name: string; value: string }[] = []) =>
      a.request(
        createRequest({ method, uri: `sip:802@${GW.address}`, from: `<sip:801@${GW.address}>`, to: `<sip:802@${GW.address}>`, cseq: 1, headers }),
        false,
      );
    const tagged = (r: SipResponse) => toAddr(r).params.get("tag");
    const options = await ask("OPTIONS");
    expect(options.status).toBe(200);
    expect(tagged(options)).toBeTruthy();
    expect(getHeader(options, "allow")).not.toMatch(/NOTIFY|REFER/);
    const notify = await ask("NOTIFY");
    expect([notify.status, Boolean(tagged(notify))]).toEqual([405, true]);
    expect((await ask("SUBSCRIBE", [{ name: "event", value: "presence" }])).status).toBe(489);
    expect((await ask("BYE")).status).toBe(481);
    const required = await ask("OPTIONS", [{ name: "require", value: "100rel, Foo" }]);
    expect(required.status).toBe(420);
    expect(getHeader(required, "unsupported")).toBe("100rel, foo");
    expect(tagged(required)).toBeTruthy();
    // An INVITE requiring 100rel is refused before authentication and before any phone rings.
    await b.register();
    const inv = await ask("INVITE", [{ name: "require", value: "100rel" }]);
    expect(inv.status).toBe(420);
    expect(b.received.some((r) => r.method === "INVITE")).toBe(false);
  });

  it("a phone whose flow moves mid-call (re-registered from a new NAT mapping) gets its BYE at the new address, and its media is relearnt", async () => {
    await answered();
    const moved = rig.addPhone({ address: "198.18.0.42", port: 41000 }, "802");
    const binding = registrar.lookup("802")[0]!;
    registrar.emit("binding-moved", { ...binding, source: moved.local }, b.local);
    expect(moves).toEqual(["b"]);
    expect((await a.bye()).status).toBeGreaterThanOrEqual(200);
    await rig.until(() => moved.received.some((r) => r.method === "BYE"));
    expect(b.received.some((r) => r.method === "BYE")).toBe(false);
  });

  it("refuses unauthenticated callers", async () => {
    await b.register();
    const stranger = rig.addPhone("198.18.0.30", "801", "nope");
    const { res } = await stranger.call("802");
    expect(res.status).toBe(403);
    expect(b.received.some((r) => r.method === "INVITE")).toBe(false);
  });

  it("passes a hold re-INVITE through and returns the answer", async () => {
    await answered();
    const hold = PHONE_SDP("198.18.0.11", 40000).replace("a=sendrecv", "a=sendonly");
    const r2 = await a.reinvite(hold);
    expect(r2.status).toBe(200);
    const reinv = b.received.filter((r) => r.method === "INVITE").at(-1)!;
    expect(reinv.body.toString()).toContain("a=sendonly");
    expect(getHeader(reinv, "to")).toContain("tag=");
  });

  it("answers CANCEL before answer with 487 and cancels the callee", async () => {
    await a.register();
    await b.register();
    b.behaviour = { ringOnly: true };
    const p = a.call("802");
    await rig.until(() => b.received.some((r) => r.method === "INVITE"));
    await rig.until(() => a.responses.some((r) => r.status === 180));
    const inviteTx = a.tx.clientTransactions().find((t) => t.method === "INVITE" && t.state === "proceeding");
    a.tx.cancel(inviteTx as never);
    const { res } = await p;
    expect(res.status).toBe(487);
    await rig.until(() => b.received.some((r) => r.method === "CANCEL"));
    expect(events.at(-1)?.type).toBe("missed");
  });
});

describe("PBX: a side's channels (admission before media, hangupOn)", () => {
  let rig: PbxRig;
  let net: MemoryNetwork;
  let pbx: Pbx;
  let gwTx: TransactionLayer;
  let a: TestPhone;
  let b: TestPhone;
  let line: TestPhone;
  let side: SipSide;
  /** Media creation waits for the test to open this gate (a slow relay port allocation). */
  let gate: () => void;
  let gateOpen: Promise<void>;

  beforeEach(async () => {
    gateOpen = new Promise((r) => (gate = r));
    const slowMedia: CallMediaFactory = { create: async (id) => gateOpen.then(() => passThroughMedia.create(id)) };
    rig = new PbxRig({ media: slowMedia, dialplan: TRUNK_PLAN, ringTimeoutMs: 5000 });
    ({ net, pbx, gwTx } = rig);
    // A one-channel "trunk" that is just another SIP side, ringing a stand-in for the line.
    side = { name: "trunk", tx: gwTx, host: GW.address, port: GW.port };
    line = rig.addPhone("198.18.0.40", "line", "x");
    line.behaviour = { ringOnly: true };
    pbx.setTrunk({
      outboundTarget: (dialled): CallTarget | { status: number; reason: string } => {
        if (pbx.activeOn(side) >= 1) return { status: 486, reason: "Line Busy" };
        const uri = { scheme: "sip" as const, user: dialled, host: "198.18.0.40", port: 5060, params: new Map(), headers: new Map() };
        return { side, uri, destination: line.local, to: { uri, params: new Map() }, label: "line" };
      },
    });
    a = rig.addPhone("198.18.0.11", "801");
    b = rig.addPhone("198.18.0.12", "802");
    await a.register();
    await b.register();
  });

  afterEach(async () => {
    gate();
    await rig.close();
  });

  it("two phones dialling out at once with one channel: one call goes out, the other hears 486", async () => {
    const first = a.call("0399990000");
    const second = b.call("0399990001");
    // Both INVITEs are in: the first waits for its media, the second must already see the channel taken.
    const busy = await Promise.race([second, first]);
    expect(busy.res.status).toBe(486);
    expect(pbx.activeOn(side)).toBe(1);
    gate();
    await rig.until(() => line.received.some((r) => r.method === "INVITE"));
    await net.flush();
    expect(line.received.filter((r) => r.method === "INVITE")).toHaveLength(1);
    expect(pbx.hangupOn(side, "test")).toBe(1);
    const outcomes = await Promise.all([first, second]);
    expect(outcomes.map((o) => o.res.status).sort()).toEqual([480, 486]);
    expect(pbx.activeOn(side)).toBe(0);
  });

  it("hangupOn(side) refuses a call still waiting for media (503) and cancels a ringing one (480 to the caller, CANCEL to the callee)", async () => {
    const waiting = b.call("0399990001");
    await rig.until(() => pbx.activeOn(side) === 1);
    const other: SipSide = { name: "other", tx: gwTx, host: GW.address, port: GW.port };
    expect(pbx.activeOn(other)).toBe(0);
    expect(pbx.hangupOn(other, "not this side")).toBe(0);
    expect(pbx.hangupOn(side, "lease changed")).toBe(1);
    expect((await waiting).res.status).toBe(503);
    expect(pbx.activeOn(side)).toBe(0);
    gate();
    await net.flush();
    expect(line.received.some((r) => r.method === "INVITE")).toBe(false);
    expect(pbx.calls.size).toBe(0);

    const ringing = a.call("0399990000");
    await rig.until(() => line.received.some((r) => r.method === "INVITE"));
    expect(pbx.hangupOn(side, "lease changed")).toBe(1);
    expect((await ringing).res.status).toBe(480);
    await rig.until(() => line.received.some((r) => r.method === "CANCEL"));
    expect(pbx.activeOn(side)).toBe(0);
  });
});
