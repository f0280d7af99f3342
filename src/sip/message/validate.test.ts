import { describe, expect, it } from "vitest";
import type { SipRequest } from "./types.js";
import { parseMessage } from "./parse.js";
import { removeHeader, setHeader, addHeader } from "./headers.js";
import { validateRequest, validateResponse } from "./validate.js";
import { LINPHONE_REGISTER, NGN_REGISTER_200 } from "../../../test/support/sip/messages.js";

const fresh = (): SipRequest => parseMessage(LINPHONE_REGISTER) as SipRequest;

describe("validateRequest", () => {
  it("accepts a real REGISTER", () => {
    expect(validateRequest(fresh())).toEqual({ ok: true });
  });

  it.each(["to", "from", "call-id", "cseq", "via"])("answers 400 without %s", (name) => {
    const m = fresh();
    removeHeader(m, name);
    expect(validateRequest(m)).toMatchObject({ ok: false, status: 400 });
  });

  it("checks version, Content-Length, Max-Forwards, Expires, duplicates and Date", () => {
    const cases: [string, (m: SipRequest) => void, number][] = [
      ["version", (m) => (m.version = "SIP/3.0"), 505],
      ["content-length", (m) => setHeader(m, "l", "12"), 400],
      ["max-forwards", (m) => setHeader(m, "max-forwards", "x"), 400],
      ["expires", (m) => setHeader(m, "expires", "soon"), 400],
      ["two Call-IDs", (m) => addHeader(m, "i", "other"), 400],
      ["two To in one line", (m) => setHeader(m, "to", "<sip:a@h>, <sip:b@h>"), 400],
      ["date", (m) => addHeader(m, "date", "Sat, 13 Nov 2010 23:29:00 JST"), 400],
      ["bad contact", (m) => setHeader(m, "contact", "<sip:a@h"), 400],
      ["seq ≥ 2^31", (m) => setHeader(m, "cseq", "2147483648 REGISTER"), 400],
    ];
    for (const [what, change, status] of cases) {
      const m = fresh();
      change(m);
      expect(validateRequest(m), what).toMatchObject({ ok: false, status });
    }
    const dated = fresh();
    addHeader(dated, "date", "Sat, 13 Nov 2010 23:29:00 GMT");
    expect(validateRequest(dated)).toEqual({ ok: true });
  });

  it("answers 420 with the unknown tags, but not for ACK/CANCEL (§8.2.2.3)", () => {
    const m = fresh();
    addHeader(m, "require", "timer, foo");
    expect(validateRequest(m, { supported: ["timer", "100rel"] })).toEqual({ ok: false, status: 420, reason: "Bad Extension", unsupported: ["foo"] });
    expect(validateRequest(m, { supported: ["TIMER", "foo"] })).toEqual({ ok: true });
    m.method = "ACK";
    setHeader(m, "cseq", "21 ACK");
    expect(validateRequest(m, { supported: ["timer"] })).toEqual({ ok: true });
  });

  it("answers 415 for a body of a type not accepted", () => {
    const m = fresh();
    m.body = Buffer.from("hi");
    setHeader(m, "content-length", "2");
    setHeader(m, "content-type", "text/plain");
    expect(validateRequest(m, { accept: ["application/sdp"] })).toMatchObject({ ok: false, status: 415 });
    setHeader(m, "content-type", "Application/SDP; charset=x");
    expect(validateRequest(m, { accept: ["application/sdp"] })).toEqual({ ok: true });
  });
});

describe("validateResponse", () => {
  it("accepts a good response and refuses one without a usable Via", () => {
    const r = parseMessage(NGN_REGISTER_200);
    expect(validateResponse(r as never)).toEqual({ ok: true });
    setHeader(r, "via", "garbage");
    expect(validateResponse(r as never).ok).toBe(false);
  });
});
