import { describe, expect, it } from "vitest";
import { decodeDhcpMessage, encodeDhcpMessage, messageType, DhcpMessageType, OPT_OVERLOAD } from "./packet.js";
import { bootReply, NGN_ACK_OPTIONS_HEX } from "../../test/support/dhcp/fixtures.js";
import { buildClientMessage } from "./requests.js";

describe("DHCP message codec (RFC 2131 §2)", () => {
  it("decodes the NGN-style ACK fixture and re-encodes it byte for byte", () => {
    const wire = bootReply(NGN_ACK_OPTIONS_HEX);
    const { message, problems } = decodeDhcpMessage(wire);
    expect(problems).toEqual([]);
    expect(message!.yiaddr).toBe("198.18.1.2");
    expect(messageType(message!)).toBe(DhcpMessageType.ack);
    const again = encodeDhcpMessage(message!);
    // Our encoder pads to the 300-byte BOOTP minimum; the fixture is shorter.
    expect(again.subarray(0, wire.length)).toEqual(wire);
    expect(again.length).toBe(Math.max(300, wire.length));
    expect(decodeDhcpMessage(again).message).toEqual(message);
  });

  it("round-trips a client REQUEST", () => {
    const mac = Buffer.from("020000000001", "hex");
    const m = buildClientMessage({ mac, requestOptions: [1, 3, 120, 121, 125], enterprise: 210, vendorClass: "HGW" }, { type: "request-selecting", requestedIp: "198.18.1.2", serverId: "198.18.1.1" }, 0xdeadbeef, 3);
    const { message, problems } = decodeDhcpMessage(encodeDhcpMessage(m));
    expect(problems).toEqual([]);
    expect(message).toEqual(m);
    expect(message!.flags).toBe(0x8000);
    expect(message!.options.get(55)).toEqual(Buffer.from([1, 3, 120, 121, 125]));
    expect(message!.options.get(61)).toEqual(Buffer.from("01020000000001", "hex"));
    expect(message!.options.get(124)!.toString("hex")).toBe("000000d20706020000000001");
    expect(message!.options.get(60)!.toString()).toBe("HGW");
  });

  it("reads options overloaded into file and sname (RFC 2132 §9.3)", () => {
    const wire = bootReply(`35 01 05 34 01 03 ff`);
    Buffer.from([3, 4, 198, 18, 1, 1, 255]).copy(wire, 108); // file
    Buffer.from([51, 4, 0, 0, 0, 60, 255]).copy(wire, 44); // sname
    const { message, problems } = decodeDhcpMessage(wire);
    expect(problems).toEqual([]);
    expect(message!.options.get(3)).toEqual(Buffer.from([198, 18, 1, 1]));
    expect(message!.options.get(51)!.readUInt32BE(0)).toBe(60);
    expect(message!.options.has(OPT_OVERLOAD)).toBe(false);
  });

  it("rejects short messages and a missing cookie without throwing", () => {
    expect(decodeDhcpMessage(Buffer.alloc(100)).message).toBeNull();
    const w = bootReply("ff");
    w.writeUInt32BE(0, 236);
    const r = decodeDhcpMessage(w);
    expect(r.message).toBeNull();
    expect(r.problems).toEqual(["no DHCP magic cookie"]);
  });
});
