import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "./log.js";
import { startControlServer } from "./control.js";
import { main } from "./cli.js";

/** `hikari-gw status` reaches the running gateway by its control socket, no config file needed. */
describe("cli: status", () => {
  let dir: string | undefined;
  let server: Server | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const run = async (args: string[]): Promise<{ code: number; out: string }> => {
    let out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((out += chunk.toString()), true));
    const code = await main(args);
    vi.restoreAllMocks();
    return { code, out };
  };

  it("--state-dir finds the gateway without --config; readable by default, the whole object with --json", async () => {
    dir = mkdtempSync(join(tmpdir(), "hikari-cli-status-"));
    const status = { version: "9.9.9", uptime_s: 3, calls: [{ call_id: "c1", state: "answered", direction: "internal", from: "801", to: "802", on_hold: "callee" }] };
    server = await startControlServer(dir, () => status, silentLogger());
    const text = await run(["status", "--state-dir", dir]);
    expect(text.code).toBe(0);
    expect(text.out).toContain("c1: answered, on hold by the callee, internal 801 → 802");
    const json = await run(["status", "--state-dir", dir, "--json"]);
    expect(JSON.parse(json.out)).toEqual(status);
  });

  // Where no gateway runs at the default place (this machine, CI): the error names the socket
  // it looked for, not /etc/hikari-gw/config.yaml (what `status` needed before).
  it.skipIf(existsSync("/var/lib/hikari-gw/control.sock"))("with no option it asks the control socket's default place, needing no config file", async () => {
    await expect(main(["status"])).rejects.toThrow(/\/var\/lib\/hikari-gw\/control\.sock/);
  });
});
