/**
 * The LAN-side HTTP listener, open only while something needs it: an outstanding one-time
 * provisioning URL (`phone add`, at most 24 h) or the answering machine's recordings (always,
 * while voicemail is on). An idle gateway therefore has no TCP port open beyond SIP and the
 * control socket, and never loads `node:http` (on Node 24 that import alone costs ~14 MB of
 * RSS: its namespace's WebSocket getter pulls undici, tls and http2 in; see docs/performance.md).
 *
 * Opening and closing are serialised (one chain), so `phone add` racing a fetch that spends the
 * last token cannot leave a listener open with nothing to serve, nor close one a new URL needs.
 */
import type { Server } from "node:http";
import type { Clock, TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import type { HttpRoute } from "./http-server.js";
import { ProvisioningTokens } from "./tokens.js";

/** What `phone add` / `phone remove` need of the listener (provision/phones.ts). */
export interface ProvisioningOffers {
  /** A one-time token for `body`, once the listener is up to serve it; undefined when it cannot listen. */
  offer(extension: string, body: string): Promise<string | undefined>;
  /** A removed phone's outstanding URLs die with it. */
  revoke(extension: string): void;
}

export interface ProvisioningListenerOptions {
  addresses: string[];
  port: number;
  /** Services that keep the listener open for as long as the gateway runs (voicemail recordings). */
  routes: HttpRoute[];
  log: Logger;
  clock: Clock;
  tokens?: ProvisioningTokens;
}

export class ProvisioningListener implements ProvisioningOffers {
  readonly tokens: ProvisioningTokens;
  private servers: Server[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private expiry: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly opts: ProvisioningListenerOptions) {
    this.tokens = opts.tokens ?? new ProvisioningTokens(opts.clock);
  }

  /** Whether a TCP listener is open now. */
  get listening(): boolean {
    return this.servers.length > 0;
  }

  async offer(extension: string, body: string): Promise<string | undefined> {
    const token = this.tokens.issue(extension, body);
    if (await this.sync()) return token;
    // Nobody could fetch it: a URL that leads nowhere is not handed out.
    this.tokens.revoke(extension);
    return undefined;
  }

  revoke(extension: string): void {
    this.tokens.revoke(extension);
    void this.sync();
  }

  /**
   * Open the listener if a route or a token needs it, close it if nothing does; resolves to
   * whether it is open. A failed open is logged and retried at the next call.
   */
  sync(): Promise<boolean> {
    const next = this.chain.then(() => this.apply());
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Where it listens now (empty when closed): for the log and the tests. */
  bound(): { address: string; port: number }[] {
    return this.servers.map((s) => s.address()).filter((a): a is import("node:net").AddressInfo => typeof a === "object" && a !== null).map((a) => ({ address: a.address, port: a.port }));
  }

  /** Resolves once every open or close asked for so far is done (a served URL's close among them). */
  async settled(): Promise<void> {
    await this.chain;
  }

  /** For the gateway's stop: closes it for good; later syncs do nothing. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.sync();
  }

  private async apply(): Promise<boolean> {
    this.opts.clock.clearTimeout(this.expiry);
    this.expiry = undefined;
    const tokens = this.tokens.size;
    const wanted = !this.stopped && (this.opts.routes.length > 0 || tokens > 0);
    if (wanted && !this.listening) await this.open();
    else if (!wanted && this.listening) await this.close();
    // Tokens expire on the clock, not on a request: look again when the next one does.
    const due = this.tokens.nextExpiry();
    if (this.listening && due !== undefined) this.expiry = this.opts.clock.setTimeout(() => void this.sync(), Math.max(0, due - this.opts.clock.now()));
    return this.listening;
  }

  private async open(): Promise<void> {
    try {
      // Loaded here, not at start-up: node:http stays out of an idle gateway.
      const { startProvisioningServer } = await import("./http-server.js");
      this.servers = await startProvisioningServer({
        addresses: this.opts.addresses,
        port: this.opts.port,
        tokens: this.tokens,
        log: this.opts.log,
        clock: this.opts.clock,
        routes: this.opts.routes,
        onServed: () => void this.sync(),
      });
      this.opts.log.info({ port: this.opts.port, addresses: this.opts.addresses }, "provisioning HTTP listener open");
    } catch (err) {
      this.opts.log.error({ err, port: this.opts.port }, "provisioning HTTP listener unavailable: phone add still prints the settings");
    }
  }

  private async close(): Promise<void> {
    const servers = this.servers;
    this.servers = [];
    // close() stops accepting at once; a response still being written finishes (connection: close).
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.opts.log.info({ port: this.opts.port }, "provisioning HTTP listener closed: nothing to serve");
  }
}
