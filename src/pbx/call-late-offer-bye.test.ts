import { afterEach, describe, expect, it } from "vitest";
import sdpTransform from "sdp-transform";
import { newTag } from "../sip/message/index.js";
import { CallRig, GW_LAN, callerDialog, reply, sdpOf, type Peer } from "../../test/support/pbx/call-rig.js";

const CALLER = { address: "198.18.0.11", port: 5060 };
const CALLEE = { address: "198.18.0.12", port: 5060 };
const VIDEO = "m=video 42002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";

/**
 * R2-12: a late-offer call (INVITE without SDP) ends before the caller's ACK. The callee's
 * 2xx carried the offer, so its ACK waited for the caller's answer; it must still come
 * (before the BYE), or the callee retransmits its 200 for 32 s.
 */
describe("Call: late offer ended before the caller's ACK", () => {
  let rig: CallRig;
  afterEach(() => rig.close());

  async function answeredLateOffer() {
    rig = new CallRig();
    const caller = rig.peer(CALLER, "801");
    const callee = rig.peer(CALLEE, "802");
    callee.handler = (req, tx) => {
      if (req.method !== "INVITE" || !tx) return false;
      tx.respond(reply(req, 200, newTag(), callee.contact, sdpOf(CALLEE.address, 42000, VIDEO)));
      return true;
    };
    rig.targets = [rig.target(callee)];
    const invite = caller.invite("802", GW_LAN, undefined);
    const box = caller.send(invite, GW_LAN);
    await rig.settle(20);
    expect(box.final?.status).toBe(200);
    expect(callee.got("ACK")).toHaveLength(0); // waiting for the caller's answer
    return { caller, callee, dialog: callerDialog(invite, box.final!) };
  }

  /** The 200s the callee sent for its INVITE (first one and retransmissions). */
  const callee200s = (callee: Peer) =>
    rig.net.log.filter((d) => d.from.address === callee.at.address && /^SIP\/2\.0 200 [^]*\r\nCSeq: \d+ INVITE\r\n/i.test(d.data.toString())).length;

  function expectAckThenBye(callee: Peer): void {
    const order = callee.received.filter((r) => r.method === "ACK" || r.method === "BYE").map((r) => r.method);
    expect(order).toEqual(["ACK", "BYE"]);
    const ack = callee.got("ACK")[0]!;
    const answer = sdpTransform.parse(ack.body.toString());
    expect(answer.media.map((m) => `${m.type} ${m.port}`)).toEqual(["audio 0", "video 0"]); // refuses what the 200 offered
  }

  it("the caller's BYE before its ACK: the callee gets ACK, then BYE, and stops retransmitting its 200", async () => {
    const { caller, callee, dialog } = await answeredLateOffer();
    const bye = caller.send(dialog.createRequest("BYE", { contact: caller.contact }), GW_LAN);
    await rig.settle(100);
    expect(bye.final?.status).toBe(200);
    expectAckThenBye(callee);
    await rig.settle(40_000);
    expect(callee200s(callee)).toBe(1);
    expect(rig.calls[0]!.status).toBe("ended");
  });

  it("no ACK from the caller at all: the hang-up after 64·T1 ACKs the callee before its BYE", async () => {
    const { callee } = await answeredLateOffer();
    await rig.settle(40_000);
    expect(rig.calls[0]!.status).toBe("ended");
    expectAckThenBye(callee);
  });
});
