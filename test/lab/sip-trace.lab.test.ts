// The SIPp trace reader that sip-core.lab.test.ts asserts through; no root or network needed.
import { describe, expect, it } from "vitest";
import { find, header, parseTrace, tagOf, userOf } from "./sip/trace.js";

const SAMPLE = `----------------------------------------------- 2026-11-23 21:29:16.944671
UDP message sent (317 bytes):

INVITE sip:802@198.18.2.1 SIP/2.0
Via: SIP/2.0/UDP 198.18.2.11:5060;branch=z9hG4bK-1
f: <sip:801@198.18.2.1>;tag=abc
To: <sip:802@198.18.2.1>
Call-ID: 1-9662@198.18.2.11
CSeq: 1 INVITE
Max-Forwards: 70
Content-Length: 4

v=0

----------------------------------------------- 2026-11-23 21:29:16.945399
UDP message received [392] bytes :

SIP/2.0 407 Proxy Authentication Required
Via: SIP/2.0/UDP 198.18.2.11:5060;branch=z9hG4bK-1
From: <sip:801@198.18.2.1>;tag=abc
To: <sip:802@198.18.2.1>;tag=xyz
Call-ID: 1-9662@198.18.2.11
CSeq: 1 INVITE
Proxy-Authenticate: Digest realm="x", nonce="n"
Content-Length: 0


`;

describe("SIPp message trace", () => {
  it("splits sent and received messages with start line, headers and body", () => {
    const msgs = parseTrace(SAMPLE);
    expect(msgs).toHaveLength(2);
    const [inv, chal] = msgs as [NonNullable<(typeof msgs)[0]>, NonNullable<(typeof msgs)[0]>];
    expect(inv.dir).toBe("sent");
    expect(inv.method).toBe("INVITE");
    expect(inv.body).toBe("v=0");
    expect(header(inv, "From")).toBe("<sip:801@198.18.2.1>;tag=abc"); // compact "f" expanded
    expect(header(inv, "max-forwards")).toBe("70");
    expect(chal.dir).toBe("received");
    expect(chal.status).toBe(407);
    expect(chal.cseqMethod).toBe("INVITE");
    expect(tagOf(header(chal, "to"))).toBe("xyz");
    expect(userOf(header(chal, "from"))).toBe("801");
    expect(find(msgs, "received", { status: 407, cseq: "INVITE" })).toHaveLength(1);
    expect(find(msgs, "sent", 407)).toHaveLength(0);
  });

  it("ignores text that is not a message block", () => {
    expect(parseTrace("garbage\n\n")).toEqual([]);
  });
});
