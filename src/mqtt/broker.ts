/**
 * `mqtt.server: embedded`: an aedes broker inside the gateway for homes without one. Nobody
 * connects without username/password unless `allow_anonymous` says so (the config check
 * refuses an embedded broker with neither).
 */
import { createServer, type Server } from "node:net";
import { timingSafeEqual } from "node:crypto";
import { Aedes } from "aedes";
import type { Logger } from "../log.js";

export interface BrokerOptions {
  listen: string;
  port: number;
  username?: string;
  password?: string;
  allowAnonymous: boolean;
  log: Logger;
}

const same = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export class EmbeddedBroker {
  private constructor(
    private readonly aedes: Aedes,
    private readonly server: Server,
  ) {}

  static async start(opts: BrokerOptions): Promise<EmbeddedBroker> {
    const aedes = await Aedes.createBroker({
      authenticate: (_client, username, password, done) => {
        if (username === undefined && opts.allowAnonymous) return done(null, true);
        const ok = username !== undefined && opts.username !== undefined && opts.password !== undefined && same(username, opts.username) && same(password?.toString("utf8") ?? "", opts.password);
        if (ok) return done(null, true);
        const err = Object.assign(new Error("bad username or password"), { returnCode: 4 as const });
        done(err, false);
      },
    });
    const server = createServer((sock) => aedes.handle(sock));
    server.on("error", (err) => opts.log.error({ err }, "embedded broker socket error"));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port, opts.listen, () => {
        server.off("error", reject);
        resolve();
      });
    });
    opts.log.info({ listen: `${opts.listen}:${opts.port}`, anonymous: opts.allowAnonymous }, "embedded MQTT broker listening");
    return new EmbeddedBroker(aedes, server);
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.aedes.close(() => r()));
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
