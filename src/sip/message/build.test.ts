import { describe, expect, it } from "vitest";
import type { SipRequest } from "./types.js";
import { SipParseError } from "./types.js";
import { parseMessage } from "./parse.js";
import { serializeMessage } from "./serialize.js";
import { createRequest, createResponse, newBranch, newCallId, newTag, reasonPhrase, responseForParseError } from "./build.js";
import { callId, cseq, fromAddr, getHeader, getHeaders, toAddr, topVia } from "./headers.js";
import { validateRequest } from "./validate.js";
import { MICROSIP_INVITE } from "../../../test/support/sip/messages.js";

const INVITE = parseMessage(
  Buffer.from(
    [
      "INVITE sip:801@198.18.0.1 SIP/2.0",
      "Via: SIP/2.0/UDP 198.18.0.9;branch=z9hG4bKp1, SIP/2.0/UDP 198.18.1.2;branch=z9hG4bKa1",
      "Via: SIP/2.0/UDP 198.18.1.3;branch=z9hG4bKb1",
      "Record-Route: <sip:198.18.0.9;lr>",
      "From: <sip:802@h>;tag=f1",
      "To: <sip:801@h>",
      "Call-ID: c1",
      "CSeq: 7 INVITE",
      "Timestamp: 54",
      "Max-Forwards: 70",
      "Contact: <sip:802@198.18.1.2>",
      "Subject: not copied",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n"),
  ),
) as SipRequest;

describe("createResponse (§8.2.6)", () => {
  it("copies every Via in order, From, To, Call-ID, CSeq, and adds the To tag", () => {
    const r = createResponse(INVITE, 486, undefined, { toTag: "t9" });
    expect(r.reason).toBe("Busy Here");
    expect(getHeaders(r, "via")).toEqual(getHeaders(INVITE, "via"));
    expect(getHeaders(r, "via")).toHaveLength(3);
    expect(fromAddr(r).params.get("tag")).toBe("f1");
    expect(toAddr(r).params.get("tag")).toBe("t9");
    expect(callId(r)).toBe("c1");
    expect(cseq(r)).toEqual({ seq: 7, method: "INVITE" });
    expect(getHeader(r, "subject")).toBeUndefined();
    expect(getHeader(r, "record-route")).toBeUndefined(); // a 486 creates no dialog
    expect(getHeader(r, "content-length")).toBe("0");
  });

  it("keeps an existing To tag, and a 100 gets no tag but the Timestamp", () => {
    const tagged = createResponse({ ...INVITE, headers: INVITE.headers.map((h) => (h.name === "to" ? { ...h, value: "<sip:801@h>;tag=old" } : h)) }, 200, undefined, { toTag: "new" });
    expect(toAddr(tagged).params.get("tag")).toBe("old");
    const trying = createResponse(INVITE, 100, undefined, { toTag: "x" });
    expect(toAddr(trying).params.has("tag")).toBe(false);
    expect(getHeader(trying, "timestamp")).toBe("54");
    expect(getHeader(createResponse(INVITE, 180), "timestamp")).toBeUndefined();
  });

  it("echoes Record-Route in dialog-creating responses (§12.1.1) and carries a body", () => {
    const ok = createResponse(INVITE, 200, "Yes", { toTag: "t", body: Buffer.from("v=0\r\n"), headers: [{ name: "Contact", value: "<sip:gw@198.18.0.1>" }] });
    expect(ok.reason).toBe("Yes");
    expect(getHeaders(ok, "record-route")).toEqual(["<sip:198.18.0.9;lr>"]);
    expect(getHeader(ok, "content-type")).toBe("application/sdp");
    expect(getHeader(ok, "contact")).toBe("<sip:gw@198.18.0.1>");
    const wire = parseMessage(serializeMessage(ok));
    expect(wire.body.toString()).toBe("v=0\r\n");
  });

  it("has reason phrases for RFC 3261 and the extension codes", () => {
    expect(reasonPhrase(183)).toBe("Session Progress");
    expect(reasonPhrase(199)).toBe("Early Dialog Terminated");
    expect(reasonPhrase(422)).toBe("Session Interval Too Small");
    expect(reasonPhrase(489)).toBe("Bad Event");
    expect(reasonPhrase(494)).toBe("Security Agreement Required");
    expect(reasonPhrase(580)).toBe("Precondition Failure");
    expect(reasonPhrase(481)).toBe("Call/Transaction Does Not Exist");
    expect(reasonPhrase(499)).toBe("Client Error");
  });
});

describe("responseForParseError", () => {
  it("answers a request that failed to parse from the headers that were read", () => {
    const text = MICROSIP_INVITE.toString().replace("SIP/2.0\r\n", "SIP/3.0\r\n");
    let err: SipParseError | undefined;
    try {
      parseMessage(Buffer.from(text));
    } catch (e) {
      err = e as SipParseError;
    }
    expect(err?.status).toBe(505);
    const r = responseForParseError(err!)!;
    expect(r.status).toBe(505);
    expect(r.reason).toBe("Version Not Supported");
    expect(topVia(r).params.get("branch")).toBe("z9hG4bKPj7e9d2c5a6b4c4f2e9a1b");
    expect(toAddr(r).params.get("tag")).toMatch(/^[0-9a-f]{16}$/);
  });

  it("gives nothing for responses, ACKs and messages without the headers", () => {
    expect(responseForParseError(new SipParseError("x"))).toBeUndefined();
    expect(responseForParseError(new SipParseError("x", 400, [{ name: "via", value: "SIP/2.0/UDP h" }]))).toBeUndefined();
    const hs = ["via", "from", "to", "call-id"].map((name) => ({ name, value: name === "via" ? "SIP/2.0/UDP h" : "<sip:a@h>" }));
    expect(responseForParseError(new SipParseError("x", 400, [...hs, { name: "cseq", value: "1 ACK" }]))).toBeUndefined();
    expect(responseForParseError(new SipParseError("x", 400, [...hs, { name: "cseq", value: "1 BYE" }]))?.status).toBe(400);
  });
});

describe("createRequest and identifiers", () => {
  it("builds a valid request with a From tag, Max-Forwards 70 and Content-Length", () => {
    const r = createRequest({
      method: "REGISTER",
      uri: "sip:ntt-east.ne.jp",
      from: "<sip:0312345678@ntt-east.ne.jp>",
      to: "<sip:0312345678@ntt-east.ne.jp>",
      via: "SIP/2.0/UDP 198.18.0.2:5060;branch=" + newBranch(),
      contact: "<sip:0312345678@198.18.0.2:5060>",
      cseq: 3,
      headers: [{ name: "Expires", value: "3600" }],
    });
    expect(validateRequest(r)).toEqual({ ok: true });
    expect(fromAddr(r).params.get("tag")).toMatch(/^[0-9a-f]{16}$/);
    expect(callId(r)).toMatch(/^[0-9a-f]{32}@ntt-east\.ne\.jp$/);
    expect(cseq(r)).toEqual({ seq: 3, method: "REGISTER" });
    expect(getHeader(r, "max-forwards")).toBe("70");
    expect(getHeader(r, "expires")).toBe("3600");
    expect(parseMessage(serializeMessage(r))).toEqual(r);
  });

  it("makes unique RFC-shaped identifiers", () => {
    const branches = new Set(Array.from({ length: 2000 }, () => newBranch()));
    expect(branches.size).toBe(2000);
    for (const b of [...branches].slice(0, 50)) expect(b).toMatch(/^z9hG4bK[A-Za-z0-9_-]{16}$/);
    expect(new Set(Array.from({ length: 2000 }, () => newTag())).size).toBe(2000);
    expect(newCallId("gw.local")).toMatch(/^[0-9a-f]{32}@gw\.local$/);
    expect(newCallId()).toMatch(/^[0-9a-f]{32}$/);
  });
});
