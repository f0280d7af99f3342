/**
 * The provisioning HTTP listener: bound only to the LAN/tunnel addresses, it serves
 * `GET /provision/TOKEN` once per token and answers 404 to anything else (no listing, no
 * other paths, nothing that tells a scanner what exists). Misses are logged rate-limited.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "../log.js";
import type { Clock } from "../clock.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { PROVISION_PATH, type ProvisioningTokens } from "./tokens.js";


/**
 * Another service on the same LAN-side listener (the answering machine's recordings): tried
 * before the provisioning path, it answers true when the request was its own (and it answered,
 * now or later). It owns a path prefix; anything it does not claim falls through to the 404.
 */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface ProvisioningServerOptions {
  addresses: string[];
  port: number;
  tokens: ProvisioningTokens;
  log: Logger;
  clock: Clock;
  routes?: HttpRoute[];
  /** After a provisioning document went out (its token is spent): the listener may close. */
  onServed?: () => void;
}

/** One listener per address; all of them or none (an address that cannot bind closes the others). */
export async function startProvisioningServer(opts: ProvisioningServerOptions): Promise<Server[]> {
  const missLog = new RateLimitedLog(opts.log, 1, () => opts.clock.now());
  const routes = opts.routes ?? [];
  const servers: Server[] = [];
  for (const address of opts.addresses) {
    const server = createServer((req, res) => {
      for (const route of routes) {
        try {
          if (route(req, res)) return;
        } catch (err) {
          missLog.error({ err: err instanceof Error ? err.message : String(err) }, "HTTP route failed");
          if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain", connection: "close" }).end("error\n");
          return;
        }
      }
      const url = req.url ?? "";
      const token = req.method === "GET" && url.startsWith(PROVISION_PATH) ? url.slice(PROVISION_PATH.length) : "";
      const body = /^[A-Za-z0-9_-]{43}$/.test(token) ? opts.tokens.take(token) : undefined;
      if (body === undefined) {
        // Never log the token itself: a valid one is a credential until used.
        missLog.warn({ source: req.socket.remoteAddress, method: String(req.method).slice(0, 10) }, "provisioning request refused");
        res.writeHead(404, { "content-type": "text/plain", connection: "close" }).end("not found\n");
        return;
      }
      opts.log.info({ source: req.socket.remoteAddress }, "provisioning document served (its URL is now spent)");
      res.writeHead(200, { "content-type": "application/xml", "cache-control": "no-store", connection: "close" }).end(body);
      opts.onServed?.();
    });
    server.headersTimeout = 5000;
    server.requestTimeout = 10000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(opts.port, address, () => resolve());
      });
    } catch (err) {
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      throw err;
    }
    servers.push(server);
  }
  return servers;
}
