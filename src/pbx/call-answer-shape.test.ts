import { afterEach, describe, expect, it } from "vitest";
import sdpTransform from "sdp-transform";
import { newTag } from "../sip/message/index.js";
import { CallRig, GW_LAN, GW_WAN, callerDialog, reply, sdpOf } from "../../test/support/pbx/call-rig.js";

const PHONE = { address: "198.18.0.11", port: 5060 };
const FAR = { address: "198.18.5.1", port: 5060 };
const VIDEO = "m=video 40002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";
const FAR_SDP = sdpOf("198.18.5.9", 30000);

/** Like the NGN's side: it is offered the first audio line only. */
const audioOnly = (sdp: string): string => {
  const s = sdpTransform.parse(sdp);
  s.media = s.media.filter((m) => m.type === "audio").slice(0, 1);
  return sdpTransform.write(s);
};
const mLines = (body: Buffer) => sdpTransform.parse(body.toString()).media.map((m) => `${m.type} ${m.port} ${m.protocol}`);

/** R2-4: an answer the call sends a leg has that leg's offer's m-lines, dropped ones back with port 0. */
describe("Call: answers keep the offer's m-lines", () => {
  let rig: CallRig;
  afterEach(() => rig.close());

  it("gives the caller's audio+video offer an answer with the video line refused, in the 183 and the 200", async () => {
    rig = new CallRig({ wan: { shapeSdp: audioOnly } });
    const caller = rig.peer(PHONE, "801");
    const far = rig.peer(FAR, "0312345678");
    far.handler = (req, tx) => {
      if (req.method !== "INVITE" || !tx) return false;
      const tag = newTag();
      tx.respond(reply(req, 183, tag, far.contact, FAR_SDP));
      tx.respond(reply(req, 200, tag, far.contact, FAR_SDP));
      return true;
    };
    rig.targets = [rig.target(far, rig.wan)];
    const box = caller.send(caller.invite("0312345678", GW_LAN, sdpOf(PHONE.address, 40000, VIDEO)), GW_LAN);
    await rig.settle(50);
    expect(mLines(far.got("INVITE")[0]!.body)).toEqual(["audio 40000 RTP/AVP"]); // the far side saw audio only
    expect(mLines(caller.responses.find((r) => r.status === 183)!.body)).toEqual(["audio 30000 RTP/AVP", "video 0 RTP/AVP"]);
    expect(box.final?.status).toBe(200);
    expect(mLines(box.final!.body)).toEqual(["audio 30000 RTP/AVP", "video 0 RTP/AVP"]);
  });

  it("shapes the early answer carried into the 200 the same way", async () => {
    rig = new CallRig({ wan: { shapeSdp: audioOnly } });
    const caller = rig.peer(PHONE, "801");
    const far = rig.peer(FAR, "0312345678");
    far.handler = (req, tx) => {
      if (req.method !== "INVITE" || !tx) return false;
      const tag = newTag();
      tx.respond(reply(req, 183, tag, far.contact, FAR_SDP, [{ name: "require", value: "100rel" }, { name: "rseq", value: "1" }]));
      tx.respond(reply(req, 200, tag, far.contact));
      return true;
    };
    rig.targets = [rig.target(far, rig.wan)];
    const box = caller.send(caller.invite("0312345678", GW_LAN, VIDEO_FIRST), GW_LAN);
    await rig.settle(50);
    expect(mLines(box.final!.body)).toEqual(["video 0 RTP/AVP", "audio 30000 RTP/AVP"]);
  });

  it("late offer: the caller's ACK answer reaches the callee with every m-line of the callee's offer", async () => {
    rig = new CallRig({ wan: { shapeSdp: audioOnly } });
    const far = rig.peer(FAR, "0312345678"); // the caller, on the trunk-like side, offering nothing
    const phone = rig.peer(PHONE, "801");
    phone.handler = (req, tx) => {
      if (req.method !== "INVITE" || !tx) return false;
      tx.respond(reply(req, 200, newTag(), phone.contact, sdpOf(PHONE.address, 42000, VIDEO)));
      return true;
    };
    rig.targets = [rig.target(phone, rig.lan)];
    const invite = far.invite("801", GW_WAN, undefined);
    const box = far.send(invite, GW_WAN);
    await rig.settle(50);
    expect(mLines(box.final!.body)).toEqual(["audio 42000 RTP/AVP"]); // the trunk-like side gets its audio only
    const d = callerDialog(invite, box.final!);
    far.tx.sendAck(d.createRequest("ACK", { contact: far.contact, seq: 1, body: Buffer.from(FAR_SDP) }), GW_WAN);
    await rig.settle(20);
    const ack = phone.got("ACK")[0]!;
    expect(mLines(ack.body)).toEqual(["audio 30000 RTP/AVP", "video 0 RTP/AVP"]);
  });
});

const VIDEO_FIRST = `v=0\r\no=- 7 1 IN IP4 ${PHONE.address}\r\ns=-\r\nc=IN IP4 ${PHONE.address}\r\nt=0 0\r\n${VIDEO}m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;
