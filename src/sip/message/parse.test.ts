import { describe, expect, it } from "vitest";
import { SipParseError } from "./types.js";
import { parseMessage } from "./parse.js";
import { getHeader } from "./headers.js";

const REQ = ["OPTIONS sip:a@h SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:b@h>;tag=1", "To: <sip:a@h>", "Call-ID: x", "CSeq: 1 OPTIONS"];

function err(buf: Buffer | string): SipParseError {
  try {
    parseMessage(typeof buf === "string" ? Buffer.from(buf) : buf);
  } catch (e) {
    if (e instanceof SipParseError) return e;
    throw e;
  }
  throw new Error("parsed");
}

describe("parseMessage framing", () => {
  it("expands every compact name (§7.3.3 and extensions)", () => {
    const compact = "a b c d e f i j k l m n o r s t u v x y".split(" ");
    const long = ["accept-contact", "referred-by", "content-type", "request-disposition", "content-encoding", "from", "call-id", "reject-contact", "supported", "content-length", "contact", "identity-info", "event", "refer-to", "subject", "to", "allow-events", "via", "session-expires", "identity"];
    const lines = compact.map((c) => `${c.toUpperCase()}: v-${c}`).filter((l) => !l.startsWith("L:"));
    const m = parseMessage(Buffer.from(["MESSAGE sip:a@h SIP/2.0", ...lines, "l: 0", "", ""].join("\r\n")));
    compact.forEach((c, i) => {
      if (c !== "l") expect(getHeader(m, long[i]!)).toBe(`v-${c}`);
    });
    expect(m.headers.every((h) => h.name.length > 1)).toBe(true);
  });

  it("accepts bare LF line ends and leading CRLFs (§7.5)", () => {
    const m = parseMessage(Buffer.from("\r\n\r\n" + [...REQ, "Content-Length: 3", "", "abc"].join("\n")));
    expect(m.kind).toBe("request");
    expect(m.body.toString()).toBe("abc");
  });

  it("takes the rest of the datagram as body when Content-Length is absent, and truncates to it when present", () => {
    expect(parseMessage(Buffer.from([...REQ, "", "hello"].join("\r\n"))).body.toString()).toBe("hello");
    expect(parseMessage(Buffer.from([...REQ, "l: 2", "", "hello"].join("\r\n"))).body.toString()).toBe("he");
  });

  it("copies the body out of the receive buffer", () => {
    const buf = Buffer.from([...REQ, "l: 5", "", "hello"].join("\r\n"));
    const m = parseMessage(buf);
    buf.fill(0x41);
    expect(m.body.toString()).toBe("hello");
  });

  it("refuses oversize, empty and truncated datagrams", () => {
    expect(err(Buffer.alloc(65536, 0x41)).status).toBe(513);
    expect(err("\r\n\r\n").status).toBeUndefined();
    expect(err(REQ.join("\r\n")).status).toBeUndefined(); // cut mid-line: no end of headers
    expect(err([...REQ, "l: 10", "", "short"].join("\r\n")).status).toBe(400);
  });

  it("gives requests a status and their headers, responses neither", () => {
    const e = err(["OPTIONS sip:a@h SIP/2.0", "Via: SIP/2.0/UDP h", "Bad Header Line", "", ""].join("\r\n"));
    expect(e.status).toBe(400);
    expect(e.headers?.[0]?.name).toBe("via");
    const r = err(["SIP/2.0 200 OK", "Via: SIP/2.0/UDP h", "Bad Header Line", "", ""].join("\r\n"));
    expect(r.status).toBeUndefined();
    expect(r.headers).toBeUndefined();
    expect(err(["SIP/2.0 099 Low", "", ""].join("\r\n")).status).toBeUndefined();
    expect(err(["SIP/2.0 700 High", "", ""].join("\r\n")).status).toBeUndefined();
    // Found by the fuzzer: a status line cut after one digit.
    expect(err(["SIP/2.0 4", "", ""].join("\r\n")).status).toBeUndefined();
    expect(err(["SIP/2.0 42", "", ""].join("\r\n")).status).toBeUndefined();
    expect(err(["SIP/3.0 200 OK", "", ""].join("\r\n")).status).toBeUndefined();
  });

  it("joins folded lines with one space and keeps UTF-8 values", () => {
    const m = parseMessage(Buffer.from([...REQ, "Subject: 日本語", "X-Long: a", "\t b", "  c", "", ""].join("\r\n")));
    expect(getHeader(m, "subject")).toBe("日本語");
    expect(getHeader(m, "x-long")).toBe("a b c");
  });

  it("refuses a bare CR inside a header line (found by the fuzzer: it changed the value on re-serialising)", () => {
    const bad = Buffer.from(["SIP/2.0 100 Trying", "Via: SIP/2.0/UDP h;branch=z9hG4bKx", "Contact: <sip:a@h>\r\t", "", ""].join("\r\n"));
    expect(() => parseMessage(bad)).toThrow(SipParseError);
  });
});
