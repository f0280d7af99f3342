import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CallEvent } from "../events.js";
import { fromAddr, getHeader, getHeaders, toAddr } from "../sip/message/index.js";
import type { SipRequest } from "../sip/message/types.js";
import type { CallMediaFactory } from "./call-media.js";
import type { CallTarget, SipSide } from "./call-types.js";
import type { Pbx } from "./pbx.js";
import { gatewayOffer } from "./gateway-offer.js";
import { callResult } from "../call-log.js";
import { PHONE_SDP, type TestPhone } from "../../test/support/pbx/phone.js";
import { GW, PbxRig } from "../../test/support/pbx/pbx-rig.js";

/** Click-to-dial over the in-memory network: 801 (two devices) rings first, then the number. */
describe("PBX: click-to-dial (originate)", () => {
  let rig: PbxRig;
  let pbx: Pbx;
  let events: CallEvent[];
  let a: TestPhone;
  let a2: TestPhone;
  let b: TestPhone;
  let line: TestPhone;
  /** The SDP each side's media was handed, in order ("a: …", "b: …"). */
  let sdpSeen: string[];
  let trunkUp: boolean;
  let released: number;

  const media: CallMediaFactory = {
    create: async () => ({
      fromSide: (from, sdp) => {
        sdpSeen.push(`${from}: ${sdp}`);
        return sdp;
      },
      release: () => void released++,
      // The relay's own offer toward a side: its port 40000 for the extension, 40002 for the number.
      offer: (side, advertise) => gatewayOffer(advertise, side === "a" ? 40000 : 40002, undefined, 1),
    }),
  };

  const invites = (p: TestPhone): SipRequest[] => p.received.filter((r) => r.method === "INVITE");
  const of = (p: TestPhone, method: string): SipRequest[] => p.received.filter((r) => r.method === method);
  /** No call, attempt, event or INVITE left behind. */
  const nothingLeft = () => {
    expect(pbx.summaries()).toEqual([]);
    expect(pbx.calls.size).toBe(0);
    expect(events).toEqual([]);
    for (const p of [a, a2, b, line]) expect(invites(p)).toEqual([]);
  };

  beforeEach(async () => {
    sdpSeen = [];
    trunkUp = true;
    released = 0;
    rig = new PbxRig({
      media,
      extensions: [
        { number: "801", password: "secret801", name: "Kitchen" },
        { number: "802", password: "secret802" },
        { number: "803", password: "secret803" },
      ],
      dialplan: [
        { match: "^80[1-9]$", to: "extension" },
        { match: "^0[0-9]+$", to: "trunk" },
      ],
      ringTimeoutMs: 3000,
    });
    ({ pbx, events } = rig);
    // The line: another SIP side whose "NGN" is a test phone.
    const side: SipSide = { name: "trunk", tx: rig.gwTx, host: GW.address, port: GW.port };
    line = rig.addPhone("198.18.0.40", "line", "x");
    pbx.setTrunk({
      outboundTarget: (dialled): CallTarget | { status: number; reason: string; why: string } => {
        if (!trunkUp) return { status: 503, reason: "Trunk Not Registered", why: "trunk registration failed" };
        const uri = { scheme: "sip" as const, user: dialled, host: "198.18.0.40", port: 5060, params: new Map(), headers: new Map() };
        return { side, uri, destination: line.local, to: { uri, params: new Map() }, label: "line" };
      },
    });
    a = rig.addPhone("198.18.0.11", "801");
    a2 = rig.addPhone("198.18.0.21", "801");
    b = rig.addPhone("198.18.0.12", "802");
    for (const p of [a, a2, b]) expect((await p.register()).status).toBe(200);
  });

  afterEach(async () => {
    await rig.close();
  });

  const dial = (extension: string, number: string): string => {
    const r = pbx.originate(extension, number);
    if ("error" in r) throw new Error(r.error);
    return r.callId;
  };

  it("rings every device of the extension with From showing the number (\"Dial …\"), the relay's offer, and no auto-answer hints", async () => {
    a.behaviour = { ringOnly: true };
    a2.behaviour = { ringOnly: true };
    const id = dial("801", "03-1234-5678");
    await rig.until(() => invites(a).length === 1 && invites(a2).length === 1);
    for (const inv of [invites(a)[0]!, invites(a2)[0]!]) {
      const from = fromAddr(inv);
      expect(from.displayName).toBe("Dial 0312345678");
      expect(from.uri.user).toBe("0312345678");
      expect(toAddr(inv).uri.user).toBe("801");
      expect(inv.body.toString()).toContain(`c=IN IP4 ${GW.address}`);
      expect(inv.body.toString()).toMatch(/m=audio 40000 RTP\/AVP 0 101/);
      expect(getHeader(inv, "call-info")).toBeUndefined();
      expect(getHeader(inv, "alert-info")).toBeUndefined();
    }
    // Each device its own dialog (§8.1.1.4), and none of them the call id the command returned.
    expect(getHeader(invites(a)[0]!, "call-id")).not.toBe(getHeader(invites(a2)[0]!, "call-id"));
    expect(events.map((e) => [e.type, e.call_id, e.direction, e.from, e.to, e.extension])).toEqual([["outgoing", id, "outbound", "801", "0312345678", "801"]]);
    expect(pbx.summaries()).toMatchObject([{ call_id: id, state: "ringing", direction: "outbound", from: "801", to: "0312345678" }]);
    expect(invites(line)).toEqual([]);
  });

  it("the extension answers: ACKed, then the number is dialled through the dialplan with the extension's answer as the offer; a BYE from the extension ends both legs", async () => {
    a2.behaviour = { ringOnly: true };
    const id = dial("801", "0312345678");
    await rig.until(() => invites(line).length === 1);
    // The device that answered got its ACK; the other was cancelled (answered elsewhere).
    expect(of(a, "ACK")).toHaveLength(1);
    await rig.until(() => of(a2, "CANCEL").length === 1);
    expect(getHeader(of(a2, "CANCEL")[0]!, "reason")).toMatch(/cause=200/);
    const out = invites(line)[0]!;
    expect(out.uri.user).toBe("0312345678");
    // What the phone answered is the offer toward the number, through the media (RFC 3264: no re-offer to the phone).
    const phoneAnswer = PHONE_SDP(a.local.address, 42000);
    expect(out.body.toString()).toBe(phoneAnswer);
    expect(sdpSeen[0]).toBe(`a: ${phoneAnswer}`);
    await rig.until(() => of(line, "ACK").length === 1);
    expect(events.map((e) => e.type)).toEqual(["outgoing", "answered"]);
    expect(events[1]).toMatchObject({ call_id: id, direction: "outbound", from: "801", to: "0312345678" });
    expect(pbx.summaries()).toMatchObject([{ call_id: id, state: "answered" }]);
    // No re-INVITE went to the extension, and its re-INVITE is relayed now (the call is confirmed).
    expect(invites(a)).toHaveLength(1);
    expect((await a.reinvite(PHONE_SDP(a.local.address, 42000))).status).toBe(200);
    expect(invites(line)).toHaveLength(2);
    expect((await a.bye()).status).toBe(200);
    await rig.until(() => of(line, "BYE").length === 1);
    expect(events.at(-1)).toMatchObject({ type: "ended", call_id: id, hangup_by: "caller" });
    expect(pbx.calls.size).toBe(0);
    expect(released).toBe(1);
  });

  it("hang-up by the far end, and the hangup command, end both legs", async () => {
    a2.behaviour = { ringOnly: true };
    dial("801", "0312345678");
    await rig.until(() => of(line, "ACK").length === 1);
    expect((await line.bye()).status).toBe(200);
    await rig.until(() => of(a, "BYE").length === 1);
    expect(events.at(-1)).toMatchObject({ type: "ended", hangup_by: "callee" });

    const id = dial("801", "0312345679");
    await rig.until(() => of(line, "ACK").length === 2);
    expect(pbx.hasCall(id)).toBe(true);
    expect(pbx.hangup(id, "hung up by command")).toBe(1);
    await rig.until(() => of(a, "BYE").length === 2 && of(line, "BYE").length === 1);
    expect(events.at(-1)).toMatchObject({ type: "ended", call_id: id, hangup_by: "gateway" });
    expect(pbx.hasCall(id)).toBe(false);
  });

  it("no answer at the extension: its devices are cancelled at the ring timeout, nothing is dialled, the call is `failed`", async () => {
    a.behaviour = { ringOnly: true };
    a2.behaviour = { ringOnly: true };
    const id = dial("801", "0312345678");
    await rig.until(() => of(a, "CANCEL").length === 1 && of(a2, "CANCEL").length === 1, 5000);
    expect(invites(line)).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(["outgoing", "rejected"]);
    const end = events[1]!;
    expect(end).toMatchObject({ call_id: id, reason: "no answer at extension 801", extension: "801" });
    expect(callResult(end)).toBe("failed");
    expect(pbx.summaries()).toEqual([]);
    expect(released).toBe(1);
  });

  it("the extension declines: nothing is dialled, `failed` (not the number's busy)", async () => {
    a.behaviour = { reject: 486 };
    a2.behaviour = { reject: 603 };
    dial("801", "0312345678");
    await rig.until(() => events.length === 2);
    expect(invites(line)).toEqual([]);
    expect(events[1]).toMatchObject({ type: "rejected", reason: "extension 801 answered 603 Decline" });
    expect(callResult(events[1]!)).toBe("failed");
  });

  it("the number is busy: the extension, which answered, gets a BYE whose Reason carries the 486 (RFC 3326)", async () => {
    a2.behaviour = { ringOnly: true };
    line.behaviour = { reject: 486 };
    const id = dial("801", "0312345678");
    await rig.until(() => of(a, "BYE").length === 1);
    expect(getHeader(of(a, "BYE")[0]!, "reason")).toBe('SIP;cause=486;text="Busy Here"');
    // The BYE is in the extension's dialog: the Call-ID and tags of its answered INVITE.
    expect(getHeader(of(a, "BYE")[0]!, "call-id")).toBe(getHeader(invites(a)[0]!, "call-id"));
    expect(events.map((e) => e.type)).toEqual(["outgoing", "rejected"]);
    expect(events[1]).toMatchObject({ call_id: id, reason: "486 Busy Here" });
    expect(callResult(events[1]!)).toBe("busy");
    expect(pbx.calls.size).toBe(0);
  });

  it("the trunk goes down while the extension rings: its BYE says 503, nothing reaches the line", async () => {
    a2.behaviour = { ringOnly: true };
    a.behaviour = { answer: true, ringMs: 500 };
    dial("801", "0312345678");
    await rig.until(() => invites(a).length === 1);
    trunkUp = false;
    await rig.until(() => of(a, "BYE").length === 1, 3000);
    expect(getHeaders(of(a, "BYE")[0]!, "reason")).toEqual(['SIP;cause=503;text="Trunk Not Registered"']);
    expect(invites(line)).toEqual([]);
  });

  it("an extension's number: an internal call, 802 rings with 801 as the caller", async () => {
    a2.behaviour = { ringOnly: true };
    const id = dial("801", "802");
    await rig.until(() => of(b, "ACK").length === 1);
    const inv = invites(b)[0]!;
    expect(fromAddr(inv).uri.user).toBe("801");
    expect(fromAddr(inv).displayName).toBe("Kitchen");
    expect(events.map((e) => [e.type, e.direction])).toEqual([
      ["outgoing", "internal"],
      ["answered", "internal"],
    ]);
    expect(pbx.hangup(id, "test")).toBe(1);
  });

  it("the extension hangs up while the number rings: the line's INVITE is cancelled, and no BYE goes back to the phone", async () => {
    a2.behaviour = { ringOnly: true };
    line.behaviour = { ringOnly: true };
    const id = dial("801", "0312345678");
    await rig.until(() => invites(line).length === 1);
    expect((await a.bye()).status).toBe(200);
    await rig.until(() => of(line, "CANCEL").length === 1);
    await rig.settle(500);
    expect(of(a, "BYE")).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: "missed", call_id: id, direction: "outbound" });
    expect(pbx.hasCall(id)).toBe(false);
  });

  it("the hangup command while the extension rings cancels its devices", async () => {
    a.behaviour = { ringOnly: true };
    a2.behaviour = { ringOnly: true };
    const id = dial("801", "0312345678");
    await rig.until(() => invites(a).length === 1 && invites(a2).length === 1);
    expect(pbx.hangup(id, "hung up by command")).toBe(1);
    await rig.until(() => of(a, "CANCEL").length === 1 && of(a2, "CANCEL").length === 1);
    expect(events.map((e) => e.type)).toEqual(["outgoing", "rejected"]);
    expect(pbx.hasCall(id)).toBe(false);
  });

  it("refuses before ringing, leaving nothing: toll fraud, no dialplan match, trunk down, unknown or unregistered extension, itself", async () => {
    const refused = (ext: string, number: string) => {
      const r = pbx.originate(ext, number);
      expect(r, `${ext} → ${number}`).toHaveProperty("error");
      return "error" in r ? r.error : "";
    };
    expect(refused("801", "0101234567")).toMatch(/403 International Calls Not Allowed/);
    expect(refused("801", "0570123456")).toMatch(/403 Premium-Rate Calls Not Allowed/);
    expect(refused("801", "12345")).toMatch(/404 Not Found \(no dialplan entry matches\)/);
    expect(refused("899", "0312345678")).toBe("no extension 899");
    expect(refused("803", "0312345678")).toBe("extension 803 is not registered");
    expect(refused("801", "803")).toMatch(/extension 803 is not registered/);
    expect(refused("801", "801")).toMatch(/cannot dial itself/);
    trunkUp = false;
    expect(refused("801", "0312345678")).toMatch(/503 Trunk Not Registered/);
    await rig.settle(100);
    nothingLeft();
    expect(pbx.dialogCount).toBe(0);
  });

  it("counts against the extension's call limit like a call it placed", async () => {
    await rig.close();
    rig = new PbxRig({ media, dialplan: [{ match: "^0[0-9]+$", to: "trunk" }], limits: { perExtension: 1 } });
    ({ pbx, events } = rig);
    a = rig.addPhone("198.18.0.11", "801");
    a.behaviour = { ringOnly: true };
    await a.register();
    const side: SipSide = { name: "trunk", tx: rig.gwTx, host: GW.address, port: GW.port };
    line = rig.addPhone("198.18.0.40", "line", "x");
    pbx.setTrunk({ outboundTarget: (d) => ({ side, uri: { scheme: "sip", user: d, host: "198.18.0.40", params: new Map(), headers: new Map() }, destination: line.local, to: { uri: { scheme: "sip", user: d, host: "x", params: new Map(), headers: new Map() }, params: new Map() }, label: "line" }) });
    dial("801", "0312345678");
    expect(pbx.originate("801", "0312345679")).toEqual({ error: "extension 801: 486 Too Many Calls From This Extension" });
  });
});
