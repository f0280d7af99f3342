import { describe, expect, it } from "vitest";
import { SipParseError } from "./types.js";
import { formatUri, parseUri } from "./uri.js";

function status(fn: () => unknown): number | undefined | "ok" {
  try {
    fn();
    return "ok";
  } catch (e) {
    if (!(e instanceof SipParseError)) throw e;
    return e.status;
  }
}

describe("parseUri / formatUri", () => {
  it("parses sip: with user, password, port, params and headers", () => {
    const u = parseUri("sip:alice:secret@example.com:5070;transport=UDP;lr?subject=hi%20there&priority=urgent");
    expect(u).toEqual({
      scheme: "sip",
      user: "alice",
      password: "secret",
      host: "example.com",
      port: 5070,
      params: new Map([
        ["transport", "UDP"],
        ["lr", null],
      ]),
      headers: new Map([
        ["subject", "hi there"],
        ["priority", "urgent"],
      ]),
    });
    expect(parseUri(formatUri(u))).toEqual(u);
  });

  it("keeps IPv6 references with brackets and reads the port after them", () => {
    const u = parseUri("sips:[2001:db8::10]:5061;maddr=[2001:db8::1]");
    expect(u.scheme).toBe("sips");
    expect(u.host).toBe("[2001:db8::10]");
    expect(u.port).toBe(5061);
    expect(u.params.get("maddr")).toBe("[2001:db8::1]");
    expect(formatUri(u)).toBe("sips:[2001:db8::10]:5061;maddr=[2001:db8::1]");
  });

  it("undoes escapes and redoes only the needed ones (§19.1.2)", () => {
    expect(parseUri("sip:%61lice@h").user).toBe("alice");
    expect(formatUri(parseUri("sip:%61lice@h"))).toBe("sip:alice@h");
    const spaced = parseUri("sip:I%20have%20spaces@h");
    expect(formatUri(spaced)).toBe("sip:I%20have%20spaces@h");
    expect(formatUri({ scheme: "sip", user: "a@b", host: "h", params: new Map(), headers: new Map() })).toBe("sip:a%40b@h");
    expect(formatUri({ scheme: "sip", user: "日本", host: "h", params: new Map(), headers: new Map() })).toBe("sip:%E6%97%A5%E6%9C%AC@h");
    expect(parseUri("sip:%E6%97%A5%E6%9C%AC@h").user).toBe("日本");
  });

  it("treats scheme case-insensitively and lowercases parameter names", () => {
    const u = parseUri("SIP:bob@Example.COM;Transport=udp");
    expect(u.scheme).toBe("sip");
    expect(u.host).toBe("Example.COM");
    expect(u.params.get("transport")).toBe("udp");
  });

  it("parses tel: URIs with parameters", () => {
    const u = parseUri("tel:+81-3-1234-5678;phone-context=+81");
    expect(u.scheme).toBe("tel");
    expect(u.user).toBe("+81-3-1234-5678");
    expect(u.params.get("phone-context")).toBe("+81");
    expect(formatUri(u)).toBe("tel:+81-3-1234-5678;phone-context=+81");
  });

  it("tolerates a raw '#' in the user part but writes it escaped", () => {
    const u = parseUri("sip:*31#0312345678@h");
    expect(u.user).toBe("*31#0312345678");
    expect(formatUri(u)).toBe("sip:*31%230312345678@h");
  });

  it("answers 416 for other well-formed schemes and 400 for garbage", () => {
    expect(status(() => parseUri("mailto:a@b"))).toBe(416);
    expect(status(() => parseUri("soap.beep://192.0.2.1:3002"))).toBe(416);
    for (const bad of ["", "sip:", "<sip:a@b>", "sip:a@b@c", "sip:a b@c", "sip:[::1", "sip:h:99999", "sip:h:x", "sip:%zz@h", "sip:h;;lr", "sip:h?x", "sip:@h", "tel:", "sip:a@.h", "nocolon"]) {
      expect(status(() => parseUri(bad)), bad).toBe(400);
    }
  });
});
