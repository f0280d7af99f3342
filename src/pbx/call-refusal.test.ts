import { afterEach, describe, expect, it } from "vitest";
import { pino } from "pino";
import type { TestPhone } from "../../test/support/pbx/phone.js";
import { PbxRig } from "../../test/support/pbx/pbx-rig.js";

/** Every call the PBX refuses leaves one info line naming the rule, and a permanent refusal is not a 503. */
describe("PBX: refused calls are explained", () => {
  let rig: PbxRig;
  let a: TestPhone;
  let lines: Record<string, unknown>[];

  const start = async (): Promise<void> => {
    lines = [];
    const log = pino({ level: "info" }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    rig = new PbxRig({
      log,
      dialplan: [
        { match: "^80[1-9]$", to: "extension" },
        { match: "^0[0-9]+$", to: "trunk" },
      ],
    });
    a = rig.addPhone("198.18.0.11", "801");
    await a.register();
  };
  const refused = () => lines.filter((l) => l.msg === "call refused");

  afterEach(async () => {
    await rig.close();
  });

  it("an unknown number: 404 and one line saying no dialplan entry matched", async () => {
    await start();
    expect((await a.call("899")).res.status).toBe(404);
    expect(refused()).toEqual([expect.objectContaining({ level: 30, status: 404, to: "899", from: "801", rule: "no match", why: "no dialplan entry matches" })]);
  });

  it("an extension number nobody has: 404 naming the dialplan entry", async () => {
    await start();
    expect((await a.call("809")).res.status).toBe(404);
    expect(refused()).toEqual([expect.objectContaining({ status: 404, to: "809", rule: "dialplan[0] ^80[1-9]$ → extension", why: "no extension 809" })]);
  });

  it("the trunk when none is configured: 403 'No Trunk Configured' (permanent: clients do not retry a 403), not 503", async () => {
    await start();
    const { res } = await a.call("0312345678");
    expect(`${res.status} ${res.reason}`).toBe("403 No Trunk Configured");
    expect(refused()).toEqual([expect.objectContaining({ status: 403, rule: "dialplan[1] ^0[0-9]+$ → trunk", why: "no trunk configured" })]);
  });

  it("the trunk while it is down: its 503 and its state in the line", async () => {
    await start();
    rig.pbx.setTrunk({ outboundTarget: () => ({ status: 503, reason: "Trunk Not Registered", why: "trunk registration failed" }) });
    expect((await a.call("0312345678")).res.status).toBe(503);
    expect(refused()).toEqual([expect.objectContaining({ status: 503, reason: "Trunk Not Registered", why: "trunk registration failed" })]);
  });

  it("a phone redialling a refused number fast: at most 5 lines a second, the rest counted", async () => {
    await start();
    const t0 = rig.clock.now();
    for (let i = 0; i < 20; i++) expect((await a.call("899")).res.status).toBe(404);
    const windows = Math.floor((rig.clock.now() - t0) / 1000) + 1;
    expect(windows).toBeLessThan(3); // the 20 calls fit in a second or two of fake time
    expect(refused().length).toBeLessThanOrEqual(5 * windows);
    rig.clock.advance(1000);
    await a.call("899");
    expect(refused().at(-1)?.suppressed).toBeGreaterThan(0);
  });
});
