import { describe, expect, it } from "vitest";
import { leaseFromAck, trunkParamsFromLease } from "./lease.js";
import { decodeDhcpMessage } from "./packet.js";
import { bootReply, NGN_ACK_OPTIONS_HEX } from "../../test/support/dhcp/fixtures.js";

function ngnLease() {
  const problems: string[] = [];
  const lease = leaseFromAck(decodeDhcpMessage(bootReply(NGN_ACK_OPTIONS_HEX)).message!, "wan0", 1000, problems);
  expect(problems).toEqual([]);
  return lease!;
}

describe("lease from an NGN-style ACK", () => {
  it("keeps address, /30, timers, routes, SIP server and option 125", () => {
    const l = ngnLease();
    expect(l).toMatchObject({
      address: "198.18.1.2",
      prefix: 30,
      router: "198.18.1.1",
      lease_time: 14400,
      t1: 7200,
      t2: 10800,
      server_id: "198.18.1.1",
      acquired_at: 1000,
      sip_servers: ["198.18.2.5"],
      routes: [
        { destination: "198.19.0.0", prefix: 16, gateway: "198.18.1.1" },
        { destination: "198.18.128.0", prefix: 24, gateway: "198.18.1.1" },
      ],
    });
    expect(l.vendor_options[0]!.enterprise).toBe(210);
    expect(l.vendor_options[0]!.sub_options.map((s) => s.code)).toEqual([201, 202, 203, 204, 210]);
  });

  it("maps to trunk parameters (202 number, 203 more, 204 domain in label form)", () => {
    expect(trunkParamsFromLease(ngnLease())).toEqual({
      server: "198.18.2.5",
      domain: "ntt-east.ne.jp",
      number: "0312345678",
      additional_numbers: ["0312345679"],
    });
  });

  it("honours configured enterprise and codes", () => {
    const l = ngnLease();
    expect(trunkParamsFromLease(l, { enterprise: 9999 })).toEqual({ server: "198.18.2.5", additional_numbers: [] });
    expect(trunkParamsFromLease(l, { numberCode: 203, additionalCode: 202, domainCode: 210 })).toEqual({
      server: "198.18.2.5",
      domain: "fw.ntt.ne.jp",
      number: "0312345679",
      additional_numbers: ["0312345678"],
    });
  });

  it("refuses control bytes in numbers and accepts a plain-text domain", () => {
    const l = ngnLease();
    l.vendor_options = [{ enterprise: 210, sub_options: [{ code: 202, hex: Buffer.from("031\r\n").toString("hex") }, { code: 204, hex: Buffer.from("ntt-west.ne.jp").toString("hex") }] }];
    expect(trunkParamsFromLease(l)).toEqual({ server: "198.18.2.5", domain: "ntt-west.ne.jp", additional_numbers: [] });
  });

  it("fills T1/T2 defaults (RFC 2131 §4.4.5) and rejects an ACK without address or server", () => {
    const m = decodeDhcpMessage(bootReply("35 01 05 36 04 c6 12 01 01 33 04 00 00 00 64 ff")).message!;
    const l = leaseFromAck(m, "wan0", 0, [])!;
    expect([l.t1, l.t2, l.prefix]).toEqual([50, 87, 32]);
    const p: string[] = [];
    expect(leaseFromAck(decodeDhcpMessage(bootReply("35 01 05 ff", { yiaddr: "0.0.0.0" })).message!, "wan0", 0, p)).toBeNull();
    expect(leaseFromAck(decodeDhcpMessage(bootReply("35 01 05 ff")).message!, "wan0", 0, p)).toBeNull();
    expect(p).toHaveLength(2);
  });
});
