import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SipRequest, SipResponse } from "../../sip/message/types.js";
import { getHeader } from "../../sip/message/index.js";
import { Dialog } from "../../sip/dialog/dialog.js";
import { silentLogger } from "../../log.js";
import type { VoicemailSessionApi, VoicemailSessionResult, VoicemailSocket } from "../../voicemail/types.js";
import type { TestPhone } from "../../../test/support/pbx/phone.js";
import type { FakeNgn } from "../../../test/support/trunk/fake-ngn.js";
import { GatewayRig, NGN, WAN } from "../../../test/support/trunk/gateway-rig.js";
import { AnsweringMachine } from "./answering-machine.js";
import type { Recording, SessionStart } from "./answering-call.js";

/** A session that records what it was given and ends when told (the engine is tested on its own). */
class FakeSession implements VoicemailSessionApi {
  hungUp = false;
  private finish?: (r: VoicemailSessionResult) => void;
  constructor(readonly start: SessionStart) {}
  run(): Promise<VoicemailSessionResult> {
    return new Promise((resolve) => (this.finish = resolve));
  }
  end(reason: VoicemailSessionResult["reason"], seconds = 3): void {
    const samples = new Int16Array(seconds * 8000);
    this.finish?.({ samples, reason, durationS: seconds, stats: { accepted: seconds * 50, malformed: 0, foreign: 0, late: 0, implausible: 0, dtmfEvents: 0, concealedSamples: 0, overlaps: 0, gapsCapped: 0, droppedSource: 0, packetsSent: 100 } });
  }
  hangup(): void {
    this.hungUp = true;
    this.end("hangup");
  }
}

const socket: VoicemailSocket = { send: () => undefined, on: () => undefined, off: () => undefined };

describe("answering machine: a fork of inbound line calls that answers itself", () => {
  let rig: GatewayRig;
  let ngn: FakeNgn;
  let phone: TestPhone;
  let machine: AnsweringMachine;
  let sessions: FakeSession[];
  let recordings: Recording[];
  let bound: { address: string; closed: boolean }[];
  let dnd = false;
  /** What the call's media (a relay that rewrites SDP to its own ports) was asked. */
  let media: { fromSide: string[]; released: string[] };

  beforeEach(async () => {
    media = { fromSide: [], released: [] };
    sessions = [];
    recordings = [];
    bound = [];
    const clock = (await import("../../clock.js")).ManualClock;
    const manual = new clock(1_000_000);
    machine = new AnsweringMachine({
      clock: manual,
      log: silentLogger(),
      answerAfterMs: 2000,
      numbers: ["0312345678"],
      bindMedia: async (address) => {
        const b = { address, closed: false };
        bound.push(b);
        return { socket, port: 50002, close: () => (b.closed = true) };
      },
      startSession: (s) => {
        const f = new FakeSession(s);
        sessions.push(f);
        return f;
      },
      onRecording: (r) => recordings.push(r),
    });
    rig = await GatewayRig.create({ clock: manual, extensions: [{ number: "801", password: "secret801" }], ringTimeoutMs: 30_000, dnd: () => dnd, answering: machine,
      media: {
        create: async () => ({
          fromSide: (from, sdp) => {
            media.fromSide.push(from);
            return sdp.replace(/c=IN IP4 \S+/g, "c=IN IP4 198.18.9.9").replace(/m=audio \d+/, "m=audio 40000");
          },
          release: (reason) => void media.released.push(reason),
          quality: () => ({ caller: { packets: 0, lost: 0, loss_pct: 0, jitter_ms: 0 }, callee: { packets: 0, lost: 0, loss_pct: 0, jitter_ms: 0 } }),
        }),
      },
    });
    machine.attach(rig.pbx);
    ngn = rig.ngn;
    phone = rig.addPhone("198.18.0.11", "801");
    phone.behaviour = { ringOnly: true };
    await phone.register();
    await rig.registerLine();
  });

  afterEach(async () => {
    machine.close();
    await rig.close();
    dnd = false;
  });

  /** The NGN's ACK for the 200, as the line sends it. */
  const ack = (req: SipRequest, ok: SipResponse) => {
    const d = Dialog.asUac(req, ok);
    ngn.tx.sendAck(d.createRequest("ACK", { contact: `<sip:${NGN.address}>`, seq: 1 }), WAN);
    return d;
  };

  it("answers after answer_after_s of ringing: the phone gets a CANCEL saying voicemail, the line a 200 shaped as a phone's answer", async () => {
    const { req, done } = ngn.invite();
    await rig.until(() => phone.received.some((r) => r.method === "INVITE"));
    await rig.settle(1900);
    expect(phone.received.some((r) => r.method === "CANCEL")).toBe(false);
    const ok = await rig.run(done, 1000);
    expect(ok.status).toBe(200);
    // The trunk's rules, as for a phone's answer: session timer echoed, Require: timer, our WAN Contact.
    expect(getHeader(ok, "session-expires")).toBe("300;refresher=uac");
    expect(getHeader(ok, "require")).toBe("timer");
    expect(getHeader(ok, "contact")).toContain(WAN.address);
    // SDP: PCMU + telephone-event on the machine's socket, bound on the trunk's address (no relay).
    const sdp = ok.body.toString();
    expect(sdp).toContain(`c=IN IP4 ${WAN.address}`);
    expect(sdp).toMatch(/m=audio 50002 RTP\/AVP 0 101\r\n/);
    expect(bound).toEqual([{ address: WAN.address, closed: false }]);
    // A reliable 180 went first (the line supports 100rel), as with a phone.
    expect(getHeader(ngn.responses.find((r) => r.status === 180)!, "require")).toBe("100rel");
    await rig.until(() => phone.received.some((r) => r.method === "CANCEL"));
    expect(getHeader(phone.received.find((r) => r.method === "CANCEL")!, "reason")).toBe('SIP;cause=480;text="Voicemail"');

    const d = ack(req, ok);
    await rig.until(() => sessions.length === 1);
    // The session sends to the line's media address from its offer.
    expect(sessions[0]!.start).toMatchObject({ remote: { address: "198.18.5.9", port: 30000 }, payloadType: 0, telephoneEventPt: 101 });
    // Only the phone's offer went through the relay; its ports were freed when the machine answered.
    expect(media.fromSide).toEqual(["a"]);
    expect(media.released).toEqual(["answered by voicemail"]);

    const bye = await rig.run(ngn.request(d.createRequest("BYE", { contact: `<sip:${NGN.address}>` })));
    expect(bye.status).toBe(200);
    await rig.until(() => recordings.length === 1);
    expect(sessions[0]!.hungUp).toBe(true);
    expect(recordings[0]).toMatchObject({ from: "0398765432", called: "0312345678", result: { reason: "hangup", durationS: 3 } });
    expect(bound[0]!.closed).toBe(true);
    expect(rig.events.map((e) => [e.type, e.answered_by])).toEqual([["incoming", undefined], ["answered", "voicemail"], ["ended", "voicemail"]]);
    expect(rig.events.at(-1)).toMatchObject({ hangup_by: "caller" });
    // The message names the call it came from, as its events do.
    expect(recordings[0]!.callId).toBe(rig.events[0]!.call_id);
    expect(recordings[0]!.callId).toBe(getHeader(req, "call-id"));
    // No relay quality for media the relay never carried.
    expect(rig.events.at(-1)!.quality).toBeUndefined();
    expect(machine.activeCalls).toBe(0);
  });

  it("a message that ends by itself (# or the length limit) hangs up the line with BYE", async () => {
    const { req, done } = ngn.invite();
    const ok = await rig.run(done, 5000);
    ack(req, ok);
    await rig.until(() => sessions.length === 1);
    sessions[0]!.end("dtmf", 4);
    await rig.until(() => ngn.seen.some((r) => r.method === "BYE"));
    expect(getHeader(ngn.seen.find((r) => r.method === "BYE")!, "reason")).toContain("message ended (dtmf)");
    await rig.until(() => recordings.length === 1);
    expect(recordings[0]!.result.reason).toBe("dtmf");
    // The machine is the answering side: it hung up.
    expect(rig.events.at(-1)).toMatchObject({ type: "ended", answered_by: "voicemail", hangup_by: "callee" });
  });

  it("DND: answers at once instead of 486, and the phone never rings", async () => {
    dnd = true;
    const { done } = ngn.invite();
    const ok = await rig.run(done, 500);
    expect(ok.status).toBe(200);
    expect(phone.received.some((r) => r.method === "INVITE")).toBe(false);
  });

  it("no phone registered: answers at once", async () => {
    await phone.register(0);
    await rig.settle(100);
    const { done } = ngn.invite();
    expect((await rig.run(done, 500)).status).toBe(200);
  });

  it("a phone that answers before answer_after_s keeps the call: the machine's fork is cancelled, nothing recorded", async () => {
    phone.behaviour = { answer: true, ringMs: 1000 };
    const { req, done } = ngn.invite();
    const ok = await rig.run(done, 5000);
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).not.toContain("50002");
    ack(req, ok);
    await rig.settle(5000);
    expect(bound).toEqual([]);
    expect(sessions).toEqual([]);
    expect(rig.events.find((e) => e.type === "answered")).toMatchObject({ extension: "801" });
    expect(rig.events.some((e) => e.answered_by)).toBe(false);
    expect(machine.activeCalls).toBe(0);
  });

  it("the caller gives up while it rings: the machine's fork is cancelled, a missed call", async () => {
    const { req, done } = ngn.invite();
    await rig.until(() => ngn.responses.some((r) => r.status === 180));
    await rig.settle(500);
    const inviteTx = ngn.tx.clientTransactions().find((t) => t.request === req);
    ngn.tx.cancel(inviteTx!);
    expect((await rig.run(done)).status).toBe(487);
    await rig.settle(3000);
    expect(bound).toEqual([]);
    expect(rig.events.at(-1)).toMatchObject({ type: "missed" });
    expect(machine.activeCalls).toBe(0);
  });

  it("DND on a number it does not answer: the line still hears 486", async () => {
    dnd = true;
    const { done } = ngn.invite({ headers: [{ name: "p-called-party-id", value: "<sip:0399999999@ntt-east.ne.jp>" }] });
    expect((await rig.run(done, 500)).status).toBe(486);
    expect(bound).toEqual([]);
  });

  it("a number it does not answer (voicemail.numbers) rings the phones only", async () => {
    const { done } = ngn.invite({ headers: [{ name: "p-called-party-id", value: "<sip:0399999999@ntt-east.ne.jp>" }] });
    await rig.settle(5000);
    expect(bound).toEqual([]);
    expect(phone.received.some((r) => r.method === "INVITE")).toBe(true);
    void done;
  });
});
