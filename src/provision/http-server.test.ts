import type { Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { httpRequest } from "../../test/support/http-get.js";
import { startProvisioningServer, type HttpRoute } from "./http-server.js";
import { ProvisioningTokens } from "./tokens.js";

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

async function start(routes: HttpRoute[]) {
  const clock = new ManualClock();
  const tokens = new ProvisioningTokens(clock);
  servers = await startProvisioningServer({ addresses: ["127.0.0.1"], port: 0, tokens, log: silentLogger(), clock, routes });
  return { port: (servers[0]!.address() as { port: number }).port, tokens };
}

describe("provisioning HTTP listener: pluggable routes", () => {
  it("a route answers what it claims; everything else still reaches the provisioning path or the 404", async () => {
    const seen: string[] = [];
    const route: HttpRoute = (req, res) => {
      seen.push(req.url ?? "");
      if (!req.url?.startsWith("/mine/")) return false;
      res.writeHead(200, { "content-type": "text/plain" }).end("mine\n");
      return true;
    };
    const { port, tokens } = await start([route]);
    expect(await httpRequest(port, "/mine/x")).toMatchObject({ status: 200, body: Buffer.from("mine\n") });
    const t = tokens.issue("801", "<config/>");
    expect(await httpRequest(port, `/provision/${t}`)).toMatchObject({ status: 200, body: Buffer.from("<config/>") });
    expect((await httpRequest(port, "/other")).status).toBe(404);
    expect(seen).toEqual(["/mine/x", `/provision/${t}`, "/other"]);
  });

  it("a route that throws gets a 500 and the listener keeps serving", async () => {
    const { port } = await start([
      () => {
        throw new Error("boom");
      },
    ]);
    expect((await httpRequest(port, "/x")).status).toBe(500);
    expect((await httpRequest(port, "/x")).status).toBe(500);
  });
});
