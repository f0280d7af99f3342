/**
 * The registrar's bindings as the PBX rings them, end to end over the in-memory network:
 * one INVITE per device whatever the phones do with Call-ID and Contact (R2 review T4, T8).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRequest } from "../sip/message/index.js";
import type { TestPhone } from "../../test/support/pbx/phone.js";
import { GW, PbxRig } from "../../test/support/pbx/pbx-rig.js";

describe("registrar flows as the PBX rings them", () => {
  let rig: PbxRig;

  const phone = (address: string, number: string, password: string): TestPhone => {
    const p = rig.addPhone(address, number, password);
    p.behaviour = { ringOnly: true };
    return p;
  };
  /** A REGISTER with the Contact and Call-ID a real phone would choose. */
  const register = (p: TestPhone, contact: string, callId: string, seq = 1) =>
    p.request(
      createRequest({
        method: "REGISTER",
        uri: `sip:${GW.address}`,
        from: `<sip:${p.number}@${GW.address}>`,
        to: `<sip:${p.number}@${GW.address}>`,
        callId,
        cseq: seq,
        contact,
        headers: [{ name: "expires", value: "600" }],
      }),
    );
  const invites = (p: TestPhone) => p.received.filter((r) => r.method === "INVITE").length;

  beforeEach(() => {
    rig = new PbxRig({ lockout: { maxFailures: 3, lockMs: 60_000 }, ringTimeoutMs: 150 });
  });

  afterEach(async () => {
    await rig.close();
  });

  it("rings a phone that restarted with a new Call-ID and ;rinstance= once, not twice", async () => {
    const a = phone("198.18.0.11", "801", "secret801");
    const b = phone("198.18.0.12", "802", "secret802");
    expect((await a.register()).status).toBe(200);
    expect((await register(b, "<sip:802@198.18.0.12:5060;rinstance=boot1>", "boot-1")).status).toBe(200);
    expect((await register(b, "<sip:802@198.18.0.12:5060;rinstance=boot2>", "boot-2")).status).toBe(200);
    await rig.run(a.call("802")); // ends with the ring timeout: every fork has been sent by then
    expect(invites(b)).toBe(1);
    expect(b.received.find((r) => r.method === "INVITE")!.uri.params.get("rinstance")).toBe("boot2");
  });

  it("rings both devices of one extension behind different NATs with the same private Contact", async () => {
    const a = phone("198.18.0.11", "801", "secret801");
    const p1 = phone("198.18.0.21", "802", "secret802");
    const p2 = phone("198.18.0.22", "802", "secret802");
    expect((await a.register()).status).toBe(200);
    expect((await register(p1, "<sip:802@192.168.1.10:5060>", "nat-1")).status).toBe(200);
    expect((await register(p2, "<sip:802@192.168.1.10:5060>", "nat-2")).status).toBe(200);
    await rig.run(a.call("802"));
    expect([invites(p1), invites(p2)]).toEqual([1, 1]);
  });

  it("rings a phone once when one REGISTER gave it two contacts", async () => {
    const a = phone("198.18.0.11", "801", "secret801");
    const b = phone("198.18.0.12", "802", "secret802");
    expect((await a.register()).status).toBe(200);
    expect((await register(b, "<sip:802@198.18.0.12:5060>, <sip:802@198.18.0.12:5060;line=2>", "two")).status).toBe(200);
    await rig.run(a.call("802"));
    expect(invites(b)).toBe(1);
  });
});
