/**
 * Apply a lease to the WAN interface with iproute2, and take it off again. Address with
 * the lease's lifetime (so the kernel drops it even if we die), option 121 routes
 * (RFC 3442), a default route only when configured (docs/ngn.md "DHCP": never through the ONU port by
 * default). DNS is never touched. Routes carry `proto dhcp` so they are recognisable.
 */
import { execFile } from "node:child_process";
import type { Logger } from "../log.js";
import { INFINITE_LEASE, type Lease, type StaticRoute } from "./lease.js";

export interface InterfaceConfigurator {
  /**
   * The WAN port's link set up before the first DISCOVER. The port belongs to the gateway
   * alone (no other DHCP client or network manager on it, as on the Pi image), so nothing
   * else brings it up; a raw socket on a link that is down only gets "Network is unreachable".
   */
  up(iface: string): Promise<void>;
  apply(lease: Lease, previous: Lease | null): Promise<void>;
  remove(lease: Lease): Promise<void>;
}

export type IpRunner = (args: string[]) => Promise<void>;

const runIp: IpRunner = (args) =>
  new Promise((resolve, reject) => {
    execFile("ip", args, { timeout: 10_000 }, (err, _out, stderr) => (err ? reject(new Error(`ip ${args.join(" ")}: ${stderr.trim() || err.message}`)) : resolve()));
  });

/** The routes to install for a lease. RFC 3442 §3: with option 121, option 3 is ignored. */
export function routesFor(lease: Lease, defaultRoute: boolean): StaticRoute[] {
  const out: StaticRoute[] = [];
  for (const r of lease.routes) if (r.prefix > 0 || defaultRoute) out.push(r);
  if (defaultRoute && lease.routes.length === 0 && lease.router) out.push({ destination: "0.0.0.0", prefix: 0, gateway: lease.router });
  return out;
}

function routeArgs(verb: string, r: StaticRoute, dev: string): string[] {
  // A router of 0.0.0.0 means the destination is on-link (RFC 3442 §3 note).
  const via = r.gateway === "0.0.0.0" ? ["scope", "link"] : ["via", r.gateway];
  return ["route", verb, `${r.destination}/${r.prefix}`, ...via, "dev", dev, "proto", "dhcp"];
}

export class IprouteConfigurator implements InterfaceConfigurator {
  constructor(
    private readonly opts: { defaultRoute: boolean; log: Logger; run?: IpRunner },
  ) {}

  private get run(): IpRunner {
    return this.opts.run ?? runIp;
  }

  async up(iface: string): Promise<void> {
    await this.run(["link", "set", "dev", iface, "up"]);
  }

  async apply(lease: Lease, previous: Lease | null): Promise<void> {
    const dev = lease.interface;
    if (previous && (previous.address !== lease.address || previous.prefix !== lease.prefix)) await this.remove(previous);
    else if (previous) {
      const keep = new Set(routesFor(lease, this.opts.defaultRoute).map((r) => JSON.stringify(r)));
      for (const r of routesFor(previous, this.opts.defaultRoute)) if (!keep.has(JSON.stringify(r))) await this.quiet(routeArgs("del", r, dev));
    }
    const lft = lease.lease_time === INFINITE_LEASE ? "forever" : String(lease.lease_time);
    await this.run(["addr", "replace", `${lease.address}/${lease.prefix}`, "brd", "+", "dev", dev, "valid_lft", lft, "preferred_lft", lft]);
    for (const r of routesFor(lease, this.opts.defaultRoute)) {
      try {
        await this.run(routeArgs("replace", r, dev));
      } catch (e) {
        // One unreachable gateway must not stop the address and the other routes.
        this.opts.log.warn({ err: (e as Error).message }, "route not installed");
      }
    }
  }

  async remove(lease: Lease): Promise<void> {
    for (const r of routesFor(lease, this.opts.defaultRoute)) await this.quiet(routeArgs("del", r, lease.interface));
    await this.quiet(["addr", "del", `${lease.address}/${lease.prefix}`, "dev", lease.interface]);
  }

  private async quiet(args: string[]): Promise<void> {
    try {
      await this.run(args);
    } catch (e) {
      this.opts.log.debug({ err: (e as Error).message }, "ip cleanup step failed (already gone?)");
    }
  }
}

/** For applyToInterface: false (the `dhcp` command without --keep, or tests). */
export const noInterfaceChanges: InterfaceConfigurator = {
  up: async () => undefined,
  apply: async () => undefined,
  remove: async () => undefined,
};
