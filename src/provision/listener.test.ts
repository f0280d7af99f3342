import { createServer, type Server } from "node:net";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { createRootLogger } from "../log.js";
import { httpRequest } from "../../test/support/http-get.js";
import { ProvisioningListener } from "./listener.js";
import { PROVISION_PATH, TOKEN_TTL_MS } from "./tokens.js";
import type { HttpRoute } from "./http-server.js";

const made: ProvisioningListener[] = [];
const blockers: Server[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((l) => l.stop()));
  await Promise.all(blockers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function listener(opts: { routes?: HttpRoute[]; port?: number; addresses?: string[] } = {}) {
  const clock = new ManualClock(1_000_000);
  const logs: string[] = [];
  const log = createRootLogger({ level: "info", destination: new Writable({ write: (c, _e, cb) => (logs.push(String(c)), cb()) }) });
  const l = new ProvisioningListener({ addresses: opts.addresses ?? ["127.0.0.1"], port: opts.port ?? 0, routes: opts.routes ?? [], log, clock });
  made.push(l);
  return { l, clock, logs };
}

const port = (l: ProvisioningListener) => l.bound()[0]!.port;

/** A TCP port held by another process's socket, as a port already in use is. */
async function taken(address: string, port = 0): Promise<number> {
  const s = createServer();
  blockers.push(s);
  await new Promise<void>((resolve, reject) => s.once("error", reject).listen(port, address, resolve));
  return (s.address() as { port: number }).port;
}

describe("provisioning listener: open only while something needs it", () => {
  it("an idle gateway (no voicemail, no phone being added) listens on nothing", async () => {
    const { l } = listener();
    expect(await l.sync()).toBe(false);
    expect(l.listening).toBe(false);
    expect(l.bound()).toEqual([]);
  });

  it("phone add opens it; the one fetch serves the document and closes it", async () => {
    const { l, logs } = listener();
    const token = await l.offer("802", "<config/>");
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(l.listening).toBe(true);
    const p = port(l);
    const got = await httpRequest(p, `${PROVISION_PATH}${token}`);
    expect(got.status).toBe(200);
    expect(got.body.toString()).toBe("<config/>");
    await l.settled();
    expect(l.listening).toBe(false);
    await expect(httpRequest(p, `${PROVISION_PATH}${token}`)).rejects.toThrow(/ECONNREFUSED/);
    expect(logs.join("")).toMatch(/closed: nothing to serve/);
  });

  it("stays open while another URL is outstanding, and closes when the last one expires (24 h)", async () => {
    const { l, clock } = listener();
    const a = await l.offer("802", "<a/>");
    clock.advance(1000);
    await l.offer("803", "<b/>");
    expect((await httpRequest(port(l), `${PROVISION_PATH}${a}`)).status).toBe(200);
    await l.settled();
    expect(l.listening).toBe(true);
    // The first token's expiry time passes (it is spent already): still one outstanding.
    clock.advance(TOKEN_TTL_MS - 1000);
    await l.settled();
    expect(l.listening).toBe(true);
    clock.advance(1000);
    await l.settled();
    expect(l.listening).toBe(false);
  });

  it("phone remove revokes the phone's URL and closes the listener with it", async () => {
    const { l } = listener();
    await l.offer("802", "<a/>");
    l.revoke("802");
    await l.settled();
    expect(l.listening).toBe(false);
    expect(l.tokens.size).toBe(0);
  });

  it("with the answering machine's route it opens at once and stays open after a URL is spent", async () => {
    const route: HttpRoute = (req, res) => (req.url === "/voicemail/x" ? (res.writeHead(200).end("wav"), true) : false);
    const { l } = listener({ routes: [route] });
    expect(await l.sync()).toBe(true);
    const t = await l.offer("802", "<a/>");
    expect((await httpRequest(port(l), `${PROVISION_PATH}${t}`)).status).toBe(200);
    await l.settled();
    expect(l.listening).toBe(true);
    expect((await httpRequest(port(l), "/voicemail/x")).body.toString()).toBe("wav");
  });

  it("a port in use: no URL handed out, nothing left behind, the error logged; the next offer tries again", async () => {
    const busy = await taken("127.0.0.1");
    const { l, logs } = listener({ port: busy });
    expect(await l.offer("802", "<a/>")).toBeUndefined();
    expect(l.tokens.size).toBe(0);
    expect(l.listening).toBe(false);
    expect(logs.join("")).toMatch(/provisioning HTTP listener unavailable/);
    await new Promise((r) => blockers.pop()!.close(r));
    expect(await l.offer("802", "<a/>")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(l.listening).toBe(true);
  });

  it("one address that cannot bind closes the others: all addresses or none", async () => {
    const busy = await taken("127.0.0.2");
    const { l } = listener({ port: busy, addresses: ["127.0.0.1", "127.0.0.2"] });
    expect(await l.offer("802", "<a/>")).toBeUndefined();
    // 127.0.0.1:busy was bound first; it must have been closed again.
    expect(await taken("127.0.0.1", busy)).toBe(busy);
  });

  it("after stop nothing opens it again", async () => {
    const { l } = listener();
    await l.offer("802", "<a/>");
    await l.stop();
    expect(l.listening).toBe(false);
    expect(await l.offer("803", "<b/>")).toBeUndefined();
    expect(l.listening).toBe(false);
  });
});
