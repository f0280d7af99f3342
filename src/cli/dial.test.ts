import { describe, expect, it } from "vitest";
import type { ControlRequest } from "../control.js";
import { dialCommand } from "./dial.js";

/** dialCommand against a stand-in control socket: what it asks, what it prints, its exit code. */
async function run(args: string[], extension: string | undefined, answer: unknown) {
  const asked: ControlRequest[] = [];
  let out = "";
  let err = "";
  const code = await dialCommand("/nowhere", args, extension, (s) => (out += s), (s) => (err += s), async (_dir, req) => {
    asked.push(req);
    return answer;
  });
  return { code, out, err, asked };
}

describe("hikari-gw dial", () => {
  it("asks the gateway to dial and prints the call id", async () => {
    const r = await run(["03-1234-5678"], "801", { call_id: "abc@gw", extension: "801", number: "03-1234-5678" });
    expect(r.asked).toEqual([{ command: "dial", number: "03-1234-5678", extension: "801" }]);
    expect(r.code).toBe(0);
    expect(r.out).toBe("ringing extension 801; when it answers it calls 03-1234-5678 (call_id abc@gw)\n");
  });

  it("without --extension leaves the choice to the gateway; a number typed with spaces is one number", async () => {
    const r = await run(["+81", "3", "1234", "5678"], undefined, { call_id: "x", extension: "802" });
    expect(r.asked).toEqual([{ command: "dial", number: "+81 3 1234 5678" }]);
    expect(r.code).toBe(0);
  });

  it("the gateway's refusal is printed, exit 1", async () => {
    const r = await run(["0101234567"], undefined, { error: "0101234567: 403 International Calls Not Allowed (International Calls Not Allowed)" });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^dial: 0101234567: 403 International Calls Not Allowed/);
  });

  it.each([[[]], [["sip:0312345678"]], [["0312345678@evil"]]])("bad arguments %j: exit 2, nothing asked", async (args) => {
    const r = await run(args, undefined, {});
    expect(r.code).toBe(2);
    expect(r.asked).toEqual([]);
  });

  it("a bad --extension: exit 2, nothing asked", async () => {
    const r = await run(["0312345678"], "80a", {});
    expect(r.code).toBe(2);
    expect(r.asked).toEqual([]);
  });
});
