/**
 * The PBX's bound on dialogs (limits.dialogs): live calls' and ended calls' lingering ones
 * count, and past it a new call gets 503 with Retry-After instead of filing more.
 */
import { afterEach, describe, expect, it } from "vitest";
import { getHeader } from "../sip/message/index.js";
import { PbxRig } from "../../test/support/pbx/pbx-rig.js";

let rig: PbxRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe("PBX: bound on dialogs", () => {
  it("past limits.dialogs a new call gets 503 + Retry-After, counted; once the linger is over calls go through again", async () => {
    const r = (rig = new PbxRig({ pbxOptions: { maxDialogs: 4, retryAfterS: 9 } }));
    const a = r.addPhone("198.18.0.11", "801");
    const b = r.addPhone("198.18.0.12", "802");
    await a.register();
    await b.register();
    for (let i = 0; i < 2; i++) {
      const { res } = await a.call("802");
      expect(res.status).toBe(200);
      a.ack(res);
      await r.settle();
      expect((await a.bye()).status).toBe(200);
    }
    // Two ended calls: their four dialogs linger (32 s), and the table is full.
    expect(r.pbx.dialogCount).toBe(4);
    const { res } = await a.call("802");
    expect(res.status).toBe(503);
    expect(getHeader(res, "retry-after")).toBe("9");
    expect(r.pbx.refusedOverload).toBe(1);
    expect(r.pbx.calls.size).toBe(0);
    expect(r.pbx.dialogCount).toBe(4);
    await r.settle(33_000, 1000);
    expect(r.pbx.dialogCount).toBe(0);
    const again = await a.call("802");
    expect(again.res.status).toBe(200);
    a.ack(again.res);
    await r.settle();
    expect((await a.bye()).status).toBe(200);
  });
});
