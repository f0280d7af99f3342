import { describe, expect, it } from "vitest";
import { silentLogger } from "../log.js";
import { IprouteConfigurator, routesFor } from "./interface-setup.js";
import type { Lease } from "./lease.js";

const lease: Lease = {
  interface: "wan0",
  address: "198.18.1.2",
  prefix: 30,
  router: "198.18.1.1",
  lease_time: 14400,
  t1: 7200,
  t2: 10800,
  server_id: "198.18.1.1",
  acquired_at: 0,
  routes: [
    { destination: "198.19.0.0", prefix: 16, gateway: "198.18.1.1" },
    { destination: "0.0.0.0", prefix: 0, gateway: "198.18.1.1" },
  ],
  sip_servers: [],
  vendor_options: [],
  raw_options: {},
};

function recorder(failOn?: RegExp) {
  const calls: string[] = [];
  const run = async (args: string[]) => {
    calls.push(args.join(" "));
    if (failOn?.test(args.join(" "))) throw new Error("RTNETLINK answers: Network is unreachable");
  };
  return { calls, run };
}

describe("iproute2 interface setup", () => {
  it("sets the WAN link up (nothing else manages the port)", async () => {
    const r = recorder();
    await new IprouteConfigurator({ defaultRoute: false, log: silentLogger(), run: r.run }).up("wan0");
    expect(r.calls).toEqual(["link set dev wan0 up"]);
  });

  it("adds address with lifetime and option 121 routes, no default route unless asked", async () => {
    const r = recorder();
    await new IprouteConfigurator({ defaultRoute: false, log: silentLogger(), run: r.run }).apply(lease, null);
    expect(r.calls).toEqual([
      "addr replace 198.18.1.2/30 brd + dev wan0 valid_lft 14400 preferred_lft 14400",
      "route replace 198.19.0.0/16 via 198.18.1.1 dev wan0 proto dhcp",
    ]);
  });

  it("default route: from 121 when present (RFC 3442 ignores option 3), else from option 3", () => {
    expect(routesFor(lease, true).map((x) => x.prefix)).toEqual([16, 0]);
    expect(routesFor({ ...lease, routes: [] }, true)).toEqual([{ destination: "0.0.0.0", prefix: 0, gateway: "198.18.1.1" }]);
    expect(routesFor({ ...lease, routes: [] }, false)).toEqual([]);
  });

  it("replaces an old address and drops stale routes on change; keeps going when a route fails", async () => {
    const r = recorder(/198\.19/);
    const c = new IprouteConfigurator({ defaultRoute: false, log: silentLogger(), run: r.run });
    await c.apply({ ...lease, address: "198.18.1.6" }, lease);
    expect(r.calls).toEqual([
      "route del 198.19.0.0/16 via 198.18.1.1 dev wan0 proto dhcp",
      "addr del 198.18.1.2/30 dev wan0",
      "addr replace 198.18.1.6/30 brd + dev wan0 valid_lft 14400 preferred_lft 14400",
      "route replace 198.19.0.0/16 via 198.18.1.1 dev wan0 proto dhcp",
    ]);
  });

  it("removes routes then the address", async () => {
    const r = recorder();
    await new IprouteConfigurator({ defaultRoute: false, log: silentLogger(), run: r.run }).remove(lease);
    expect(r.calls).toEqual(["route del 198.19.0.0/16 via 198.18.1.1 dev wan0 proto dhcp", "addr del 198.18.1.2/30 dev wan0"]);
  });
});
