import { afterEach, describe, expect, it } from "vitest";
import { getHeader, newTag, setHeader } from "../sip/message/index.js";
import { CallRig, GW_LAN, callerDialog, reply, sdpOf, type Peer } from "../../test/support/pbx/call-rig.js";

const CALLER = { address: "198.18.0.11", port: 5060 };
const DEV1 = { address: "198.18.0.12", port: 5060 };
const DEV2 = { address: "198.18.0.13", port: 5062 };

/** A device that rings (180 with its tag, so it has an early dialog) and answers an UPDATE offer with SDP. */
function ringing(p: Peer): void {
  p.handler = (req, tx) => {
    if (!tx) return false;
    if (req.method === "INVITE") {
      tx.respond(reply(req, 180, newTag(), p.contact));
      return true;
    }
    if (req.method === "UPDATE" && req.body.length > 0) {
      tx.respond(reply(req, 200, "", p.contact, sdpOf(p.at.address, 42010)));
      return true;
    }
    return false;
  };
}

/** R2-6: UPDATE and INFO from the caller while the call rings are not answered 481. */
describe("Call: the caller's requests in its early dialog", () => {
  let rig: CallRig;
  afterEach(() => rig.close());

  async function ringingCall(devices: Peer[], ring: (p: Peer) => void = ringing) {
    const caller = rig.peer(CALLER, "801");
    for (const d of devices) ring(d);
    rig.targets = devices.map((d) => rig.target(d));
    const invite = caller.invite("802", GW_LAN, sdpOf(CALLER.address, 40000));
    caller.send(invite, GW_LAN);
    await rig.settle(20);
    const r180 = caller.responses.find((r) => r.status === 180)!;
    expect(r180).toBeDefined();
    const dialog = callerDialog(invite, r180);
    const send = async (method: string, body?: string) => {
      const req = dialog.createRequest(method, { contact: caller.contact, body: body === undefined ? undefined : Buffer.from(body) });
      const box = caller.send(req, GW_LAN);
      await rig.settle(20);
      return box.final;
    };
    return { caller, send };
  }

  it("relays INFO to the one device with an early dialog, and its answer back", async () => {
    rig = new CallRig();
    const dev = rig.peer(DEV1, "802");
    const { send } = await ringingCall([dev]);
    const res = await send("INFO");
    expect(res?.status).toBe(200);
    expect(dev.got("INFO")).toHaveLength(1);
    expect(rig.calls[0]!.status).toBe("ringing");
  });

  it("answers INFO itself while several devices ring", async () => {
    rig = new CallRig();
    const devs = [rig.peer(DEV1, "802"), rig.peer(DEV2, "802")];
    const { send } = await ringingCall(devs);
    expect((await send("INFO"))?.status).toBe(200);
    expect(devs.flatMap((d) => d.got("INFO"))).toHaveLength(0);
  });

  it("answers an UPDATE without SDP 200 with our Contact", async () => {
    rig = new CallRig();
    const devs = [rig.peer(DEV1, "802"), rig.peer(DEV2, "802")];
    const { send } = await ringingCall(devs);
    const res = await send("UPDATE");
    expect(res?.status).toBe(200);
    expect(getHeader(res!, "contact")).toBe(`<sip:802@${GW_LAN.address}:${GW_LAN.port}>`);
    expect(rig.calls[0]!.status).toBe("ringing");
  });

  it("relays an UPDATE offer to the one early device and brings its answer back, rewritten", async () => {
    rig = new CallRig();
    const dev = rig.peer(DEV1, "802");
    const { send } = await ringingCall([dev]);
    const res = await send("UPDATE", sdpOf(CALLER.address, 40020));
    expect(res?.status).toBe(200);
    const update = dev.got("UPDATE")[0]!;
    expect(update.body.toString()).toContain("m=audio 40020");
    expect(update.body.toString()).toMatch(/^c=IN IP4 198\.18\.0\.1\r$/m);
    expect(res!.body.toString()).toContain("m=audio 42010");
  });

  it("answers an UPDATE offer 500 with Retry-After 0-10 s while several devices ring", async () => {
    rig = new CallRig();
    const devs = [rig.peer(DEV1, "802"), rig.peer(DEV2, "802")];
    const { send } = await ringingCall(devs);
    const res = await send("UPDATE", sdpOf(CALLER.address, 40020));
    expect(res?.status).toBe(500);
    const after = Number(getHeader(res!, "retry-after"));
    expect(after).toBeGreaterThanOrEqual(0);
    expect(after).toBeLessThanOrEqual(10);
    expect(devs.flatMap((d) => d.got("UPDATE"))).toHaveLength(0);
    expect(rig.calls[0]!.status).toBe("ringing");
  });

  it("answers a re-INVITE before the call is answered 500 with Retry-After (RFC 3261 §14.2)", async () => {
    rig = new CallRig();
    const { send } = await ringingCall([rig.peer(DEV1, "802")]);
    const res = await send("INVITE", sdpOf(CALLER.address, 40030));
    expect(res?.status).toBe(500);
    expect(getHeader(res!, "retry-after")).toMatch(/^(\d|10)$/);
  });

  it("a provisional whose To has no tag makes no early dialog, even with a tag parameter inside its URI (§12.1.2)", async () => {
    rig = new CallRig();
    const dev = rig.peer(DEV1, "802");
    const uriTagOnly = (p: Peer) => {
      p.handler = (req, tx) => {
        if (!tx || req.method !== "INVITE") return false;
        const res = reply(req, 180, "unused", p.contact);
        // `tag=` inside <…> is a URI parameter, not the To header's tag.
        setHeader(res, "to", `<sip:802@${DEV1.address}:${DEV1.port};tag=in-the-uri>`);
        tx.respond(res);
        return true;
      };
    };
    const { send } = await ringingCall([dev], uriTagOnly);
    expect((await send("INFO"))?.status).toBe(200);
    expect(dev.got("INFO")).toHaveLength(0);
  });

  it("still answers 481 to a request in a dialog that is over", async () => {
    rig = new CallRig();
    const dev = rig.peer(DEV1, "802");
    const { send } = await ringingCall([dev]);
    rig.calls[0]!.hangup("test");
    await rig.settle(20);
    expect((await send("INFO"))?.status).toBe(481);
  });
});

