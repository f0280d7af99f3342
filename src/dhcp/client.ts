/**
 * DhcpClient: the WAN-port DHCP client the gateway owns. It wires the state machine
 * (client-fsm.ts) to the raw transport, the interface (iproute2), the lease store in
 * state_dir, and typed events the trunk listens to:
 *   bound    a lease was acquired (after INIT or INIT-REBOOT); address already applied
 *   renewed  extended at T1/T2 with the same parameters
 *   changed  extended, but address, routes, SIP servers or option 125 differ (re-register)
 *   expired  the lease ran out or was NAKed; address already removed
 *   released released on stop({ release: true })
 *   error    something failed (transport, iproute2, store); the client keeps going
 * Side effects for one lease happen in order (one promise chain), so `bound` is never
 * emitted before its address is on the interface.
 */
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { systemClock, type Clock } from "../clock.js";
import type { Logger } from "../log.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { DhcpClientMachine, type DhcpState, type LeaseChange } from "./client-fsm.js";
import { IprouteConfigurator, noInterfaceChanges, type InterfaceConfigurator } from "./interface-setup.js";
import { leaseExpiresAt, type Lease } from "./lease.js";
import { LeaseStore } from "./lease-store.js";
import { encodeDhcpMessage, type DhcpMessage } from "./packet.js";
import { RawTransport } from "./raw-transport.js";
import { DEFAULT_REQUEST_OPTIONS, NTT_ENTERPRISE } from "./requests.js";
import type { DhcpTransport } from "./transport.js";

export interface DhcpClientOptions {
  interface: string;
  /** MAC for chaddr, 61 and 124; defaults to the interface's own (docs/ngn.md "DHCP": some reuse the HGW's). */
  mac?: string;
  /** Where the lease is saved for INIT-REBOOT; none = always INIT. */
  stateDir?: string;
  /** Option 55 codes; defaults mirror the home gateway (docs/ngn.md "DHCP"). */
  requestOptions?: number[];
  /** Option 60 text; off by default. */
  vendorClass?: string;
  /** Enterprise number in option 124 (default 210); the MAC is its one class item. */
  enterprise?: number;
  /** Put address and routes on the interface (default true). */
  applyToInterface?: boolean;
  /** Install a default route through the lease (default false: docs/ngn.md "DHCP"). */
  defaultRoute?: boolean;
  log: Logger;
  clock?: Clock;
  transport?: DhcpTransport;
  /** Injectable for tests: iproute2 by default. */
  configurator?: InterfaceConfigurator;
  /** Injectable for tests (xid, jitter). */
  random?: () => number;
  /** Max random wait before the first DISCOVER, ms (default 1000). */
  initDelayMs?: number;
}

export interface DhcpClientEvents {
  bound: [lease: Lease];
  renewed: [lease: Lease];
  changed: [lease: Lease, previous: Lease | null];
  expired: [lease: Lease];
  released: [lease: Lease];
  error: [error: Error, lease: Lease | null];
}

export function parseMac(mac: string): Buffer {
  const hex = mac.replace(/[:-]/g, "");
  if (!/^[0-9a-fA-F]{12}$/.test(hex)) throw new Error(`bad MAC address: ${mac}`);
  return Buffer.from(hex, "hex");
}

function interfaceMac(iface: string): Buffer {
  try {
    return parseMac(readFileSync(`/sys/class/net/${iface}/address`, "utf8").trim());
  } catch (e) {
    throw new Error(`cannot read the MAC of ${iface}: ${(e as Error).message}`);
  }
}

export class DhcpClient extends EventEmitter<DhcpClientEvents> {
  private readonly log: Logger;
  private readonly errorLog: RateLimitedLog;
  private readonly clock: Clock;
  private transport: DhcpTransport | null = null;
  private readonly configurator: InterfaceConfigurator;
  private readonly store: LeaseStore | null;
  private machine: DhcpClientMachine | null = null;
  private chain: Promise<void> = Promise.resolve();
  private started = false;

  constructor(private readonly opts: DhcpClientOptions) {
    super();
    this.log = opts.log;
    this.clock = opts.clock ?? systemClock;
    this.errorLog = new RateLimitedLog(this.log, 5, () => this.clock.now());
    this.store = opts.stateDir ? new LeaseStore(opts.stateDir) : null;
    this.configurator =
      opts.configurator ?? (opts.applyToInterface === false ? noInterfaceChanges : new IprouteConfigurator({ defaultRoute: opts.defaultRoute ?? false, log: this.log }));
  }

  get lease(): Lease | null {
    return this.machine?.lease ?? null;
  }

  get state(): DhcpState {
    return this.machine?.state ?? "stopped";
  }

  /** Resolves once every queued side effect (apply, save, events) has run. */
  async whenIdle(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const c = this.chain;
      await c;
      if (c === this.chain) return;
    }
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const mac = this.opts.mac ? parseMac(this.opts.mac) : interfaceMac(this.opts.interface);
    // Without CAP_NET_ADMIN this fails; a link someone else brought up still works then.
    await this.configurator.up(this.opts.interface).catch((err: unknown) => this.log.warn({ err: (err as Error).message, interface: this.opts.interface }, "could not set the WAN link up"));
    this.transport = this.opts.transport ?? (await RawTransport.open(this.opts.interface, this.log));
    this.machine = new DhcpClientMachine({
      iface: this.opts.interface,
      identity: {
        mac,
        requestOptions: this.opts.requestOptions ?? DEFAULT_REQUEST_OPTIONS,
        enterprise: this.opts.enterprise ?? NTT_ENTERPRISE,
        ...(this.opts.vendorClass ? { vendorClass: this.opts.vendorClass } : {}),
      },
      clock: this.clock,
      log: this.log,
      random: this.opts.random,
      initDelayMs: this.opts.initDelayMs,
      hooks: {
        send: (msg, src, dst) => void this.send(msg, src, dst),
        leased: (kind, lease, previous) => this.enqueue(() => this.onLeased(kind, lease, previous), lease),
        lost: (_reason, lease) => this.enqueue(() => this.onLost(lease), lease),
      },
    });
    const machine = this.machine;
    this.transport.onMessage((payload, from) => machine.receive(payload, from));
    let saved = this.store ? await this.store.load(this.opts.interface) : null;
    if (saved && leaseExpiresAt(saved) <= this.clock.now()) {
      this.log.info({ address: saved.address }, "saved lease has expired; starting from INIT");
      const old = saved;
      this.enqueue(() => this.configurator.remove(old), old);
      saved = null;
    } else if (saved) {
      this.transport.setLocalAddress(saved.address);
    }
    machine.start(saved);
  }

  /** Stop; with release, send DHCPRELEASE (RFC 2131 §4.4.6) and take the address off. */
  async stop(opts: { release: boolean }): Promise<void> {
    if (!this.machine || !this.transport) return;
    const { lease, release } = this.machine.stop(opts.release);
    await this.chain;
    if (lease && release) {
      await this.send(release, lease.address, lease.server_id);
      await this.guard(async () => {
        await this.configurator.remove(lease);
        await this.store?.clear(lease.interface);
      }, lease);
      this.transport.setLocalAddress(null);
      this.emit("released", lease);
    }
    await this.transport.close();
    this.transport = null;
  }

  private async send(msg: DhcpMessage, src: string, dst: string): Promise<void> {
    const t = this.transport;
    if (!t) return;
    const buf = encodeDhcpMessage(msg);
    try {
      await t.send(buf, src, dst);
    } catch (e) {
      if (dst === "255.255.255.255") return this.fail(e as Error, this.lease);
      // Unicast needs a route to the server; without the address applied (the `dhcp`
      // command) there is none, and a broadcast reaches the same server.
      this.log.debug({ err: (e as Error).message, dst }, "unicast failed; broadcasting");
      try {
        await t.send(buf, src, "255.255.255.255");
      } catch (e2) {
        this.fail(e2 as Error, this.lease);
      }
    }
  }

  private async onLeased(kind: LeaseChange, lease: Lease, previous: Lease | null): Promise<void> {
    await this.guard(() => this.configurator.apply(lease, previous), lease);
    this.transport?.setLocalAddress(lease.address);
    await this.guard(async () => this.store?.save(lease), lease);
    if (kind === "changed") this.emit("changed", lease, previous);
    else this.emit(kind, lease);
  }

  private async onLost(lease: Lease): Promise<void> {
    await this.guard(() => this.configurator.remove(lease), lease);
    this.transport?.setLocalAddress(null);
    await this.guard(async () => this.store?.clear(lease.interface), lease);
    this.emit("expired", lease);
  }

  private enqueue(fn: () => Promise<void>, lease: Lease): void {
    this.chain = this.chain.then(fn).catch((e: unknown) => this.fail(e as Error, lease));
  }

  private async guard(fn: () => Promise<unknown>, lease: Lease | null): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.fail(e as Error, lease);
    }
  }

  /** `error` only reaches listeners; with none it is logged (never an uncaught throw). */
  private fail(err: Error, lease: Lease | null): void {
    // A send failing on a received OFFER or ACK, or on a retransmission timer: per datagram, rate-limited.
    this.errorLog.warn({ err: err.message }, "DHCP client error");
    if (this.listenerCount("error") > 0) this.emit("error", err, lease);
  }
}
