import { describe, expect, it } from "vitest";
import { buildIpUdp, internetChecksum, parseIpUdp } from "./ip-udp.js";

describe("IPv4/UDP framing", () => {
  const payload = Buffer.from("hello dhcp");

  it("builds headers whose checksums verify (RFC 1071: sum over header = 0)", () => {
    const p = buildIpUdp({ src: "198.18.1.2", dst: "198.18.1.1", sport: 68, dport: 67, payload }, 7);
    expect(internetChecksum(p.subarray(0, 20))).toBe(0);
    const pseudo = Buffer.concat([p.subarray(12, 20), Buffer.from([0, 17, 0, 8 + payload.length])]);
    expect(internetChecksum(pseudo, p.subarray(20))).toBe(0);
    expect(parseIpUdp(p)).toEqual({ src: "198.18.1.2", dst: "198.18.1.1", sport: 68, dport: 67, payload });
  });

  it("can leave the UDP checksum out (zero) for rewritten-source packets", () => {
    const p = buildIpUdp({ src: "0.0.0.0", dst: "255.255.255.255", sport: 68, dport: 67, payload }, 1, false);
    expect(p.readUInt16BE(26)).toBe(0);
  });

  it("rejects non-UDP, fragments and inconsistent lengths", () => {
    const p = buildIpUdp({ src: "198.18.1.2", dst: "198.18.1.1", sport: 68, dport: 67, payload });
    const tcp = Buffer.from(p);
    tcp[9] = 6;
    expect(parseIpUdp(tcp)).toBeNull();
    const frag = Buffer.from(p);
    frag.writeUInt16BE(0x2000, 6);
    expect(parseIpUdp(frag)).toBeNull();
    const long = Buffer.from(p);
    long.writeUInt16BE(999, 24);
    expect(parseIpUdp(long)).toBeNull();
    expect(parseIpUdp(p.subarray(0, 27))).toBeNull();
  });
});
