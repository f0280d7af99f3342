import { describe, expect, it } from "vitest";
import { leaseReport } from "./command.js";
import { leaseFromAck } from "./lease.js";
import { decodeDhcpMessage } from "./packet.js";
import { bootReply, NGN_ACK_OPTIONS_HEX } from "../../test/support/dhcp/fixtures.js";

describe("`hikari-gw dhcp` report", () => {
  it("has docs/design.md's keys with the trunk parameters and raw vendor sub-options", () => {
    const lease = leaseFromAck(decodeDhcpMessage(bootReply(NGN_ACK_OPTIONS_HEX)).message!, "wan0", 0, [])!;
    const r = leaseReport(lease);
    expect(Object.keys(r)).toEqual(expect.arrayContaining(["address", "prefix", "router", "lease_time", "routes", "sip_servers", "domain", "number", "additional_numbers", "vendor_options"]));
    expect(r).toMatchObject({ address: "198.18.1.2", prefix: 30, router: "198.18.1.1", lease_time: 14400, sip_servers: ["198.18.2.5"], domain: "ntt-east.ne.jp", number: "0312345678", additional_numbers: ["0312345679"] });
    const subs = (r.vendor_options as { sub_options: { code: number; hex: string; text?: string }[] }[])[0]!.sub_options;
    expect(subs.find((s) => s.code === 202)).toEqual({ code: 202, hex: "30333132333435363738", text: "0312345678" });
    expect(subs.find((s) => s.code === 201)).toEqual({ code: 201, hex: "020000000001" });
  });
});
