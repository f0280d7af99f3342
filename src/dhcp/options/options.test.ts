import { describe, expect, it } from "vitest";
import { decodeOptionArea, encodeOptionArea, type DhcpOptions } from "./codec.js";
import { decodeClasslessRoutes, encodeClasslessRoutes } from "./classless-routes.js";
import { encodeDnsName, readDnsName, readDnsNameList } from "./dns-labels.js";
import { decodeSipServers, encodeSipServers, type SipServers } from "./sip-servers.js";
import { decodeVendorClass, decodeVendorSpecific, encodeVendorClass, encodeVendorSpecific } from "./vendor.js";

describe("option area (RFC 2132 §2, RFC 3396)", () => {
  it("skips pads, stops at end, keeps order", () => {
    const o: DhcpOptions = new Map();
    const p: string[] = [];
    decodeOptionArea(Buffer.from([0, 0, 53, 1, 5, 3, 4, 1, 2, 3, 4, 255, 99, 1, 1]), o, p);
    expect([...o.keys()]).toEqual([53, 3]);
    expect(o.get(3)).toEqual(Buffer.from([1, 2, 3, 4]));
    expect(p).toEqual([]);
  });

  it("concatenates a repeated option (RFC 3396 §5) and splits long ones when encoding", () => {
    const long = Buffer.alloc(600, 7);
    const enc = encodeOptionArea(new Map([[125, long]]));
    expect(enc[0]).toBe(125);
    expect(enc[1]).toBe(255);
    const back: DhcpOptions = new Map();
    decodeOptionArea(enc, back, []);
    expect(back.get(125)).toEqual(long);
  });

  it("reports a length past the end and a missing end option", () => {
    const o: DhcpOptions = new Map();
    const p: string[] = [];
    decodeOptionArea(Buffer.from([53, 1, 5, 120, 9, 1, 2]), o, p);
    expect(o.has(53)).toBe(true);
    expect(o.has(120)).toBe(false);
    expect(p.join()).toMatch(/option 120 length 9 runs past the end/);
    const p2: string[] = [];
    decodeOptionArea(Buffer.from([53, 1, 5, 61]), new Map(), p2);
    expect(p2.join()).toMatch(/truncated before its length/);
  });
});

describe("DNS labels (RFC 1035 §3.1)", () => {
  it("round-trips and follows a backward compression pointer", () => {
    const b = Buffer.concat([encodeDnsName("ntt-east.ne.jp"), Buffer.from([3, 0x73, 0x69, 0x70, 0xc0, 9])]);
    expect(readDnsNameList(b, [])).toEqual(["ntt-east.ne.jp", "sip.ne.jp"]);
  });

  it("refuses forward pointers, loops and overlong names without throwing", () => {
    const p: string[] = [];
    expect(readDnsName(Buffer.from([0xc0, 0x00]), 0, p)).toBeNull();
    expect(readDnsName(Buffer.from([3, 0x61, 0x62]), 0, p)).toBeNull();
    expect(readDnsName(Buffer.from([0x80, 1, 0]), 0, p)).toBeNull();
    const big = Buffer.concat([...Array(5)].map(() => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)])));
    expect(readDnsName(Buffer.concat([big, Buffer.from([0])]), 0, p)).toBeNull();
    expect(p.length).toBe(4);
  });
});

describe("option 120 (RFC 3361)", () => {
  it("reads the first byte as the encoding, not a count", () => {
    expect(decodeSipServers(Buffer.from([1, 198, 18, 2, 5, 198, 18, 2, 6]), [])).toEqual({ encoding: "ipv4", servers: ["198.18.2.5", "198.18.2.6"] });
    expect(decodeSipServers(Buffer.concat([Buffer.from([0]), encodeDnsName("sip.example.jp")]), [])).toEqual({ encoding: "domain", servers: ["sip.example.jp"] });
  });

  it("ignores an unknown encoding (§3) and reports odd address lengths", () => {
    const p: string[] = [];
    expect(decodeSipServers(Buffer.from([2, 1, 2, 3, 4]), p)).toBeUndefined();
    expect(decodeSipServers(Buffer.from([1, 198, 18, 2, 5, 9]), p)).toEqual({ encoding: "ipv4", servers: ["198.18.2.5"] });
    expect(p).toHaveLength(2);
  });

  it("round-trips both encodings", () => {
    const cases: SipServers[] = [
      { encoding: "ipv4", servers: ["198.18.2.5"] },
      { encoding: "domain", servers: ["a.b", "c.d.e"] },
    ];
    for (const s of cases)
      expect(decodeSipServers(encodeSipServers(s), [])).toEqual(s);
  });
});

describe("option 121 (RFC 3442)", () => {
  it("decodes significant octets only and round-trips", () => {
    const routes = [
      { destination: "0.0.0.0", prefix: 0, gateway: "198.18.1.1" },
      { destination: "198.19.0.0", prefix: 16, gateway: "198.18.1.1" },
      { destination: "198.18.128.0", prefix: 17, gateway: "198.18.1.1" },
      { destination: "198.18.7.9", prefix: 32, gateway: "0.0.0.0" },
    ];
    const enc = encodeClasslessRoutes(routes);
    expect(enc.subarray(0, 5)).toEqual(Buffer.from([0, 198, 18, 1, 1]));
    expect(decodeClasslessRoutes(enc, [])).toEqual(routes);
  });

  it("clears host bits and stops at a bad width or truncation", () => {
    const p: string[] = [];
    expect(decodeClasslessRoutes(Buffer.from([8, 10 | 0xff, 1, 2, 3, 4]), p)[0]!.destination).toBe("255.0.0.0");
    expect(decodeClasslessRoutes(Buffer.from([33, 1, 2, 3, 4, 5, 6, 7, 8]), p)).toEqual([]);
    expect(decodeClasslessRoutes(Buffer.from([24, 1, 2, 3, 4, 5]), p)).toEqual([]);
    expect(p).toHaveLength(2);
  });
});

describe("options 124/125 (RFC 3925)", () => {
  it("encodes 124 as the NGN home gateway does: enterprise 210, data-len 7, one 6-byte MAC item", () => {
    const mac = Buffer.from("020000000001", "hex");
    const enc = encodeVendorClass([{ enterprise: 210, items: [mac] }]);
    expect(enc.toString("hex")).toBe("000000d20706020000000001");
    expect(decodeVendorClass(enc, [])).toEqual([{ enterprise: 210, items: [mac] }]);
  });

  it("decodes several enterprise blocks and joins repeated ones", () => {
    const blocks = [
      { enterprise: 210, subOptions: [{ code: 202, data: Buffer.from("0312345678") }] },
      { enterprise: 4491, subOptions: [{ code: 1, data: Buffer.from([1]) }] },
    ];
    const enc = Buffer.concat([encodeVendorSpecific(blocks), encodeVendorSpecific([{ enterprise: 210, subOptions: [{ code: 203, data: Buffer.from("99") }] }])]);
    const dec = decodeVendorSpecific(enc, []);
    expect(dec).toHaveLength(2);
    expect(dec[0]!.subOptions.map((s) => s.code)).toEqual([202, 203]);
  });

  it("reports truncated blocks and sub-options", () => {
    const p: string[] = [];
    expect(decodeVendorSpecific(Buffer.from([0, 0, 0, 210, 9, 202, 1]), p)).toEqual([]);
    expect(decodeVendorSpecific(Buffer.from([0, 0, 0, 210, 3, 202, 5, 1]), p)[0]!.subOptions).toEqual([]);
    expect(decodeVendorSpecific(Buffer.from([0, 0, 0]), p)).toEqual([]);
    expect(p).toHaveLength(3);
  });
});
