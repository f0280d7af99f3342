import { afterEach, describe, expect, it } from "vitest";
import { getHeader, newTag, setHeader } from "../sip/message/index.js";
import { CallRig, GW_LAN, reply, sdpOf, type Peer } from "../../test/support/pbx/call-rig.js";

const CALLER = { address: "198.18.0.11", port: 5060 };
const CALLEE = { address: "198.18.5.1", port: 5060 };
const CALLEE_SDP = sdpOf("198.18.5.9", 30000);

/**
 * R1-3: a callee that gives its answer in a reliable 183 (RFC 3262; the NGN does this) and
 * then sends a 200 without SDP. The caller must still get that answer reliably.
 */
describe("Call: the callee's early answer reaches the caller reliably", () => {
  let rig: CallRig;
  afterEach(() => rig.close());

  function scriptCallee(callee: Peer, reliable: boolean): void {
    callee.handler = (req, tx) => {
      if (req.method !== "INVITE" || !tx) return false;
      const tag = newTag();
      const early = reply(req, 183, tag, callee.contact, CALLEE_SDP, reliable ? [{ name: "require", value: "100rel" }, { name: "rseq", value: "1" }] : []);
      tx.respond(early);
      tx.respond(reply(req, 200, tag, callee.contact));
      return true;
    };
  }

  async function call(rig: CallRig, reliableCallee: boolean) {
    const caller = rig.peer(CALLER, "801");
    const callee = rig.peer(CALLEE, "0312345678");
    scriptCallee(callee, reliableCallee);
    rig.targets = [rig.target(callee, rig.wan)];
    const box = caller.send(caller.invite("0312345678", GW_LAN, sdpOf(CALLER.address, 40000)), GW_LAN);
    await rig.settle(50);
    return { caller, callee, box };
  }

  it("puts a reliable 183's answer into the 200 when the caller's 183 was not reliable", async () => {
    rig = new CallRig();
    const { caller, box } = await call(rig, true);
    const early = caller.responses.find((r) => r.status === 183)!;
    expect(getHeader(early, "require")).toBeUndefined(); // the LAN side sends provisionals unreliably
    expect(box.final?.status).toBe(200);
    const body = box.final!.body.toString();
    expect(body).toContain("m=audio 30000 RTP/AVP 0 101");
    expect(body).toMatch(/^c=IN IP4 198\.18\.0\.1\r$/m); // rewritten for the caller, as the 183 was
    expect(body).toBe(early.body.toString());
    expect(getHeader(box.final!, "content-type")).toBe("application/sdp");
  });

  it("does the same for an unreliable 183 followed by a 200 without SDP", async () => {
    rig = new CallRig();
    const { box } = await call(rig, false);
    expect(box.final?.status).toBe(200);
    expect(box.final!.body.toString()).toContain("m=audio 30000");
  });

  it("leaves the 200 without SDP when the caller already got the answer in a reliable 183", async () => {
    rig = new CallRig({
      lan: {
        provisionalOut: (_leg, _invite, res) => {
          setHeader(res, "require", "100rel");
          setHeader(res, "rseq", "1");
        },
      },
    });
    const { caller, box } = await call(rig, true);
    expect(getHeader(caller.responses.find((r) => r.status === 183)!, "require")).toBe("100rel");
    expect(box.final?.status).toBe(200);
    expect(box.final!.body.length).toBe(0); // RFC 3261 §13.2.1: one answer only, already delivered reliably
  });

  it("carries the 200's own SDP when it has one", async () => {
    rig = new CallRig();
    const caller = rig.peer(CALLER, "801");
    const callee = rig.peer(CALLEE, "0312345678");
    callee.handler = (req, tx) => {
      if (req.method !== "INVITE" || !tx) return false;
      tx.respond(reply(req, 200, newTag(), callee.contact, sdpOf("198.18.5.9", 30010)));
      return true;
    };
    rig.targets = [rig.target(callee, rig.wan)];
    const box = caller.send(caller.invite("0312345678", GW_LAN, sdpOf(CALLER.address, 40000)), GW_LAN);
    await rig.settle(50);
    expect(box.final!.body.toString()).toContain("m=audio 30010");
  });
});
