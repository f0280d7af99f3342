import { describe, expect, it } from "vitest";
import type { SipRequest } from "./types.js";
import { SipParseError } from "./types.js";
import {
  addHeader,
  contacts,
  expiresHeader,
  formatAuthParams,
  formatNameAddr,
  formatVia,
  getHeader,
  getHeaders,
  maxForwards,
  parseAuthParams,
  parseCSeq,
  parseNameAddr,
  parseParams,
  parseVia,
  prependHeader,
  removeFirstValue,
  removeHeader,
  setHeader,
  topVia,
} from "./headers.js";
import { parseUri } from "./uri.js";

function req(headers: [string, string][]): SipRequest {
  return {
    kind: "request",
    method: "REGISTER",
    uri: parseUri("sip:example.com"),
    version: "SIP/2.0",
    headers: headers.map(([name, value]) => ({ name, value })),
    body: Buffer.alloc(0),
  };
}

describe("header access", () => {
  it("finds headers by long, compact or any-case name", () => {
    const m = req([
      ["call-id", "abc"],
      ["via", "SIP/2.0/UDP a"],
    ]);
    expect(getHeader(m, "Call-ID")).toBe("abc");
    expect(getHeader(m, "i")).toBe("abc");
    expect(getHeader(m, "V")).toBe("SIP/2.0/UDP a");
    expect(getHeader(m, "subject")).toBeUndefined();
  });

  it("splits list headers on top-level commas only", () => {
    const m = req([
      ["contact", '"Doe, John" <sip:a,x@h;x=1>;q=0.5, <sip:b@h>'],
      ["contact", "sip:c@h"],
      ["www-authenticate", 'Digest realm="a,b", qop="auth,auth-int"'],
      ["allow", "INVITE, ACK,BYE ,, CANCEL"],
      ["date", "Sat, 13 Nov 2010 23:29:00 GMT"],
    ]);
    expect(getHeaders(m, "m")).toEqual(['"Doe, John" <sip:a,x@h;x=1>;q=0.5', "<sip:b@h>", "sip:c@h"]);
    expect(getHeaders(m, "www-authenticate")).toHaveLength(1);
    expect(getHeaders(m, "allow")).toEqual(["INVITE", "ACK", "BYE", "CANCEL"]);
    expect(getHeaders(m, "date")).toEqual(["Sat, 13 Nov 2010 23:29:00 GMT"]);
    expect(contacts(m).map((c) => (c === "*" ? c : c.uri.user))).toEqual(["a,x", "b", "c"]);
  });

  it("sets, adds, prepends and removes", () => {
    const m = req([
      ["via", "SIP/2.0/UDP b;branch=z9hG4bK2"],
      ["expires", "60"],
      ["expires", "70"],
    ]);
    prependHeader(m, "Via", "SIP/2.0/UDP a;branch=z9hG4bK1");
    expect(topVia(m).host).toBe("a");
    setHeader(m, "Expires", "90");
    expect(getHeaders(m, "expires")).toEqual(["90"]);
    addHeader(m, "l", "0");
    expect(m.headers[m.headers.length - 1]).toEqual({ name: "content-length", value: "0" });
    prependHeader(m, "record-route", "<sip:p;lr>");
    expect(m.headers[0]!.name).toBe("record-route");
    expect(removeHeader(m, "via")).toBe(2);
    expect(getHeader(m, "via")).toBeUndefined();
    setHeader(m, "subject", "x");
    expect(getHeader(m, "s")).toBe("x");
  });

  it("removes the first value of a comma list (top Via)", () => {
    const m = req([["via", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2"]]);
    removeFirstValue(m, "via");
    expect(topVia(m).host).toBe("b");
  });

  it("parses Max-Forwards and Expires, refusing junk", () => {
    expect(maxForwards(req([["max-forwards", "0070"]]))).toBe(70);
    expect(() => maxForwards(req([["max-forwards", "256"]]))).toThrow(SipParseError);
    expect(maxForwards(req([]))).toBeUndefined();
    expect(expiresHeader(req([["expires", "3600"]]))).toBe(3600);
    expect(expiresHeader(req([["expires", "99999999999999"]]))).toBe(0xffffffff);
    expect(() => expiresHeader(req([["expires", "-1"]]))).toThrow(SipParseError);
  });

  it("throws 400 for a missing mandatory header", () => {
    try {
      topVia(req([]));
      throw new Error("no throw");
    } catch (e) {
      expect(e).toBeInstanceOf(SipParseError);
      expect((e as SipParseError).status).toBe(400);
    }
  });
});

describe("structured headers", () => {
  it("Via: whitespace, IPv6, received, rport flag and value", () => {
    const v = parseVia("SIP / 2.0 / udp [2001:db8::9]:5060 ; branch = z9hG4bKx ;received=2001:db8::1;rport");
    expect(v).toEqual({
      transport: "UDP",
      host: "[2001:db8::9]",
      port: 5060,
      params: new Map<string, string | null>([
        ["branch", "z9hG4bKx"],
        ["received", "2001:db8::1"],
        ["rport", null],
      ]),
    });
    expect(formatVia(v)).toBe("SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bKx;received=2001:db8::1;rport");
    expect(parseVia("SIP/2.0/UDP 198.18.0.1;rport=5062").params.get("rport")).toBe("5062");
    for (const bad of ["SIP/2.0/UDP", "SIP/2.0 UDP h", "SIP/3.0/UDP h", "SIP/2.0/UDP h;ttl=300", "SIP/2.0/UDP h;rport=x", "SIP/2.0/UDP h junk", "SIP/2.0/UDPh"]) {
      expect(() => parseVia(bad), bad).toThrow(SipParseError);
    }
  });

  it("name-addr: quoted names with escapes, tokens, addr-spec params, round trip", () => {
    const a = parseNameAddr('"A \\"quoted\\" \\\\ name" <sip:a@h;lr>;tag=1');
    expect(a.displayName).toBe('A "quoted" \\ name');
    expect(a.uri.params.get("lr")).toBeNull();
    expect(a.params.get("tag")).toBe("1");
    expect(parseNameAddr(formatNameAddr(a))).toEqual(a);
    const b = parseNameAddr("sip:b@h;tag=2");
    expect(b.uri.params.size).toBe(0);
    expect(b.params.get("tag")).toBe("2");
    expect(parseNameAddr("Bob Smith <tel:+8131234>").displayName).toBe("Bob Smith");
    expect(parseNameAddr("<sip:[2001:db8::1]:5060>").uri.port).toBe(5060);
    for (const bad of ['"open <sip:a@h>', "<sip:a@h", "< sip:a@h>", "sip:a@h?x=y", "<sip:a@h> junk", "<sip:a@h>;;", "Bell, A <sip:a@h>"]) {
      expect(() => parseNameAddr(bad), bad).toThrow(SipParseError);
    }
  });

  it("CSeq: number and method, 32-bit limit", () => {
    expect(parseCSeq("  0009\t INVITE ")).toEqual({ seq: 9, method: "INVITE" });
    expect(() => parseCSeq("4294967296 INVITE")).toThrow(SipParseError);
    expect(() => parseCSeq("INVITE")).toThrow(SipParseError);
    expect(() => parseCSeq("1")).toThrow(SipParseError);
  });

  it("generic params", () => {
    expect(parseParams(";a=1; B ;c=\"x;y\"")).toEqual(
      new Map<string, string | null>([
        ["a", "1"],
        ["b", null],
        ["c", '"x;y"'],
      ]),
    );
    expect(parseParams("expires=60").get("expires")).toBe("60");
  });

  it("auth params: quoted commas, escapes, unknown schemes, formatting per RFC 7616", () => {
    const ch = parseAuthParams('Digest realm="hikari, gw", nonce="n\\"1", qop="auth,auth-int", algorithm=MD5, stale=FALSE');
    expect(ch.scheme).toBe("Digest");
    expect(ch.params.get("realm")).toBe("hikari, gw");
    expect(ch.params.get("nonce")).toBe('n"1');
    expect(ch.params.get("qop")).toBe("auth,auth-int");
    expect(formatAuthParams(ch)).toBe('Digest realm="hikari, gw", nonce="n\\"1", qop="auth,auth-int", algorithm=MD5, stale=FALSE');
    expect(parseAuthParams(formatAuthParams(ch))).toEqual(ch);
    const cred = { scheme: "Digest", params: new Map([["username", "801"], ["qop", "auth"], ["nc", "00000001"], ["response", "abc"]]) };
    expect(formatAuthParams(cred)).toBe('Digest username="801", qop=auth, nc=00000001, response="abc"');
    expect(() => parseAuthParams('Digest realm="open')).toThrow(SipParseError);
    expect(() => parseAuthParams('Digest realm="a" nonce="b"')).toThrow(SipParseError);
    // A parameter named twice (any case) is malformed: two readers must never disagree.
    expect(() => parseAuthParams('Digest username="x", username="802", realm="r"')).toThrow(SipParseError);
    expect(() => parseAuthParams('Digest Realm="a", realm="a"')).toThrow(/duplicate/);
  });
});
