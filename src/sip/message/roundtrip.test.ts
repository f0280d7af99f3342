import { describe, expect, it } from "vitest";
import { parseMessage } from "./parse.js";
import { serializeMessage } from "./serialize.js";
import { validateRequest, validateResponse } from "./validate.js";
import {
  allVias,
  contacts,
  expiresHeader,
  fromAddr,
  getHeader,
  getHeaders,
  parseAuthParams,
  parseNameAddr,
  parseParams,
  toAddr,
  topVia,
} from "./headers.js";
import { LINPHONE_REGISTER, MICROSIP_INVITE, NGN_INVITE, NGN_REGISTER_200, REAL_MESSAGES } from "../../../test/support/sip/messages.js";

describe("parse → serialize → parse", () => {
  for (const [name, buf] of Object.entries(REAL_MESSAGES)) {
    it(`${name}: same model, and serialising is idempotent`, () => {
      const a = parseMessage(buf);
      const wire = serializeMessage(a);
      const b = parseMessage(wire);
      expect(b).toEqual(a);
      expect(serializeMessage(b).equals(wire)).toBe(true);
      const v = a.kind === "request" ? validateRequest(a) : validateResponse(a);
      expect(v).toEqual({ ok: true });
    });
  }

  it("writes canonical capitalised names, long forms for compact ones", () => {
    const text = serializeMessage(parseMessage(NGN_INVITE)).toString();
    expect(text).toMatch(/^INVITE sip:0312345678@198\.18\.0\.2:5060 SIP\/2\.0\r\nVia: SIP\/2\.0\/UDP/);
    for (const h of ["From: ", "To: ", "Call-ID: ", "CSeq: ", "Contact: ", "Supported: ", "Session-Expires: ", "Content-Type: ", "P-Asserted-Identity: ", "P-Called-Party-ID: ", "Record-Route: ", "Min-SE: "]) {
      expect(text).toContain("\r\n" + h);
    }
    expect(text).not.toMatch(/\r\n[a-z]: /);
  });

  it("recomputes Content-Length from the body", () => {
    const m = parseMessage(MICROSIP_INVITE);
    m.body = Buffer.from("v=0\r\n");
    const text = serializeMessage(m).toString();
    expect(text).toContain("\r\nContent-Length: 5\r\n");
    expect(text.match(/Content-Length/g)).toHaveLength(1);
    expect(parseMessage(serializeMessage(m)).body.toString()).toBe("v=0\r\n");
  });
});

describe("what the layers above read from real messages", () => {
  it("Linphone REGISTER: digest credentials, instance id, expires", () => {
    const m = parseMessage(LINPHONE_REGISTER);
    const auth = parseAuthParams(getHeader(m, "authorization")!);
    expect(auth.scheme).toBe("Digest");
    expect(auth.params.get("username")).toBe("801");
    expect(auth.params.get("uri")).toBe("sip:198.18.0.1");
    expect(auth.params.get("qop")).toBe("auth");
    expect(auth.params.get("nc")).toBe("00000001");
    const c = contacts(m)[0];
    if (c === undefined || c === "*") throw new Error("no contact");
    expect(c.params.get("+sip.instance")).toBe('"<urn:uuid:bf4e5a2d-2a4f-0041-9a28-2b8f0c5d1e4a>"');
    expect(c.params.get("expires")).toBe("600");
    expect(c.uri.params.get("transport")).toBe("udp");
    expect(expiresHeader(m)).toBe(600);
    expect(topVia(m).params.get("rport")).toBeNull();
    expect(getHeaders(m, "accept")).toHaveLength(3);
    expect(getHeaders(m, "supported")).toEqual(["replaces", "outbound", "gruu", "path"]);
  });

  it("MicroSIP INVITE: display names, SDP body, Route with lr", () => {
    const m = parseMessage(MICROSIP_INVITE);
    expect(fromAddr(m).displayName).toBe("Kitchen");
    expect(m.body.toString()).toMatch(/^v=0\r\n[\s\S]*a=sendrecv\r\n$/);
    expect(parseNameAddr(getHeaders(m, "route")[0]!).uri.params.has("lr")).toBe(true);
    expect(getHeaders(m, "allow")).toHaveLength(12);
  });

  it("NGN INVITE: folded P-Asserted-Identity with sip: and tel:, P-Called-Party-ID isub", () => {
    const m = parseMessage(NGN_INVITE);
    expect(getHeader(m, "p-asserted-identity")).toBe("<sip:0398765432@ntt-east.ne.jp>, <tel:0398765432>");
    const pai = getHeaders(m, "P-Asserted-Identity").map(parseNameAddr);
    expect(pai.map((p) => [p.uri.scheme, p.uri.user])).toEqual([
      ["sip", "0398765432"],
      ["tel", "0398765432"],
    ]);
    const called = parseNameAddr(getHeader(m, "p-called-party-id")!);
    expect(called.uri.user).toBe("0312345678");
    expect(called.uri.params.get("isub")).toBe("1");
    expect(getHeaders(m, "k")).toEqual(["100rel", "timer"]);
    expect(parseParams(getHeader(m, "x")!.replace(/^\d+/, "")).get("refresher")).toBe("uac");
    expect(toAddr(m).uri.host).toBe("ntt-east.ne.jp");
    expect(allVias(m)[0]!.port).toBe(5060);
    expect(getHeaders(m, "record-route")).toEqual(["<sip:198.19.0.10:5060;lr>"]);
  });

  it("NGN 200 to REGISTER: associated URIs and contact expiry", () => {
    const m = parseMessage(NGN_REGISTER_200);
    expect(m.kind === "response" && m.status).toBe(200);
    expect(getHeaders(m, "p-associated-uri")).toEqual(["<sip:0312345679@ntt-east.ne.jp>", "<tel:0312345679>"]);
    const c = contacts(m)[0];
    expect(c !== "*" && c?.params.get("expires")).toBe("3600");
  });
});
