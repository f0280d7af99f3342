import { afterEach, describe, expect, it } from "vitest";
import type { SipRequest } from "../sip/message/types.js";
import { CallRig, GW_LAN, sdpOf } from "../../test/support/pbx/call-rig.js";

const CALLER = { address: "198.18.0.11", port: 5060 };
const CALLEE = { address: "198.18.5.1", port: 5060 };
/** Allow header lines as sent (getHeaders would split the list). */
const allowLines = (r: SipRequest) => r.headers.filter((h) => h.name === "allow").map((h) => h.value);
const NGN_ALLOW = "INVITE, ACK, BYE, CANCEL, PRACK, UPDATE";

/** R1-12: a B-leg INVITE carries exactly one Allow, the side's own when it has one. */
describe("Call: the B-leg INVITE's Allow", () => {
  let rig: CallRig;
  afterEach(() => rig.close());

  async function placeCall(rig: CallRig, onWan: boolean, targetHeaders: { name: string; value: string }[] = []) {
    const caller = rig.peer(CALLER, "801");
    const callee = rig.peer(CALLEE, "0312345678");
    callee.handler = (req) => req.method === "INVITE"; // let it ring unanswered
    rig.targets = [rig.target(callee, onWan ? rig.wan : rig.lan, { headers: targetHeaders })];
    caller.send(caller.invite("0312345678", GW_LAN, sdpOf(CALLER.address, 40000)), GW_LAN);
    await rig.settle(20);
    return callee.got("INVITE")[0]!;
  }

  it("is the side's own list, once, even when the target's headers bring another Allow", async () => {
    rig = new CallRig({ wan: { allow: NGN_ALLOW } as object });
    const invite = await placeCall(rig, true, [{ name: "allow", value: NGN_ALLOW }, { name: "supported", value: "100rel, timer" }]);
    expect(allowLines(invite)).toEqual([NGN_ALLOW]);
    expect(invite.headers.filter((h) => h.name === "supported").map((h) => h.value)).toEqual(["100rel, timer"]);
  });

  it("is the PBX's list, once, on a side without one", async () => {
    rig = new CallRig();
    const invite = await placeCall(rig, false);
    const allow = allowLines(invite);
    expect(allow).toHaveLength(1);
    expect(allow[0]).toMatch(/^INVITE, ACK, CANCEL, BYE, UPDATE/);
  });

  it("follows the PBX's own (LAN side's) list when it names one", async () => {
    rig = new CallRig({ lan: { allow: "INVITE, ACK, CANCEL, BYE, UPDATE, INFO, OPTIONS" } as object });
    const invite = await placeCall(rig, true);
    expect(allowLines(invite)).toEqual(["INVITE, ACK, CANCEL, BYE, UPDATE, INFO, OPTIONS"]);
  });
});
