/**
 * RFC 4475 torture messages, every one with its expected outcome (§3.1.1 valid, §3.1.2
 * invalid syntax, §3.2 transaction layer, §3.3 application layer, §3.4 RFC 2543 syntax).
 * A .dat file without an entry in the table fails the suite.
 */
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { SipMessage, SipRequest, SipResponse } from "./types.js";
import { SipParseError } from "./types.js";
import { parseMessage } from "./parse.js";
import { validateRequest, validateResponse, type ValidateOptions } from "./validate.js";
import {
  allVias,
  callId,
  contacts,
  cseq,
  fromAddr,
  getHeader,
  getHeaders,
  maxForwards,
  parseAuthParams,
  parseNameAddr,
  toAddr,
  topVia,
} from "./headers.js";

const ROOT = fileURLToPath(new URL("../../../test/fixtures/rfc4475/", import.meta.url));

type Expectation =
  /** Parses; a request also validates. `check` asserts fields. */
  | { outcome: "accept"; check?: (m: SipMessage) => void; opts?: ValidateOptions }
  /** parseMessage throws SipParseError with this status (undefined: drop silently). */
  | { outcome: "reject"; status: number | undefined }
  /** Parses, then validateRequest answers this status (with the given options). */
  | { outcome: "answer"; status: number; opts?: ValidateOptions; check?: (m: SipMessage) => void }
  /** A response that parses but validateResponse refuses: dropped (§18.1.2). */
  | { outcome: "drop-response" };

const req = (m: SipMessage): SipRequest => {
  expect(m.kind).toBe("request");
  return m as SipRequest;
};
const res = (m: SipMessage): SipResponse => {
  expect(m.kind).toBe("response");
  return m as SipResponse;
};

const TABLE: Record<string, Expectation> = {
  // §3.1.1.1 A Short Tortuous INVITE
  "valid/wsinv.dat": {
    outcome: "accept",
    check: (m) => {
      const r = req(m);
      expect(r.method).toBe("INVITE");
      expect(r.uri.user).toBe("vivekg");
      expect(r.uri.host).toBe("chair-dnrc.example.com");
      expect(r.uri.params.get("unknownparam")).toBeNull();
      expect(toAddr(r).params.get("tag")).toBe("1918181833n");
      expect(toAddr(r).uri.user).toBe("vivekg");
      const from = fromAddr(r);
      expect(from.displayName).toBe('J Rosenberg \\"');
      expect(from.params.get("tag")).toBe("98asjd8");
      expect(maxForwards(r)).toBe(68);
      expect(cseq(r)).toEqual({ seq: 9, method: "INVITE" });
      expect(callId(r)).toBe("wsinv.ndaksdj@192.0.2.1");
      const vias = allVias(r);
      expect(vias.map((v) => [v.transport, v.host, v.params.get("branch")])).toEqual([
        ["UDP", "192.0.2.2", "390skdjuw"],
        ["TCP", "spindle.example.com", "z9hG4bK9ikj8"],
        ["UDP", "192.168.255.111", "z9hG4bK30239"],
      ]);
      expect(getHeader(r, "subject")).toBe("");
      expect(getHeader(r, "newfangledheader")).toBe("newfangled value continued newfangled value");
      expect(getHeader(r, "UnknownHeaderWithUnusualValue")).toBe(";;,,;;,;");
      const route = parseNameAddr(getHeaders(r, "route")[0]!);
      expect([...route.uri.params]).toEqual([
        ["lr", null],
        ["unknownwith", "value"],
        ["unknown-no-value", null],
      ]);
      const c = contacts(r)[0];
      if (c === undefined || c === "*") throw new Error("no contact");
      expect(c.displayName).toBe('Quoted string ""');
      expect([...c.params]).toEqual([
        ["newparam", "newvalue"],
        ["secondparam", null],
        ["q", "0.33"],
      ]);
      expect(r.body.length).toBe(150);
    },
  },
  // §3.1.1.2 Wide Range of Valid Characters
  "valid/intmeth.dat": {
    outcome: "accept",
    check: (m) => {
      const r = req(m);
      expect(r.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
      expect(r.uri.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
      expect(r.uri.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
      expect(r.uri.host).toBe("example.com");
      expect(toAddr(r).displayName).toBe("BEL:\x07 NUL:\x00 DEL:\x7f");
      const from = fromAddr(r);
      expect(from.displayName).toBe("token1~` token2'+_ token3*%!.-");
      expect(from.params.get("tag")).toBe("_token~1'+`*%!-.");
      expect(from.params.get("fromparam''~+*_!.-%")).toBe('"работающий"');
      expect(callId(r)).toBe("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
      expect(cseq(r).method).toBe(r.method);
      expect(topVia(r).params.get("branch")).toBe("z9hG4bK-.!%66*_+`'~");
      expect(getHeader(r, "extensionHeader-!.%*+_`'~")).toBe("\ufeff\u5927\u505c\u96fb");
    },
  },
  // §3.1.1.3 Valid Use of the % Escaping Mechanism
  "valid/esc01.dat": {
    outcome: "accept",
    check: (m) => {
      const r = req(m);
      expect(r.uri.user).toBe("sips:user@example.com");
      expect(r.uri.host).toBe("example.net");
      expect(toAddr(r).uri.user).toBe("user");
      expect(fromAddr(r).uri.user).toBe("I have spaces");
      const c = contacts(r)[0];
      if (c === undefined || c === "*") throw new Error("no contact");
      expect(c.uri.user).toBe("caller");
      expect([...c.uri.params]).toEqual([
        ["lr", null],
        ["name", "value%41"],
      ]);
    },
  },
  // §3.1.1.4 Escaped Nulls in URIs
  "valid/escnull.dat": {
    outcome: "accept",
    check: (m) => {
      const r = req(m);
      expect(toAddr(r).uri.user).toBe("null-\x00-null");
      expect(contacts(r).map((c) => (c === "*" ? c : c.uri.user))).toEqual(["\x00", "\x00\x00"]);
    },
  },
  // §3.1.1.5 Use of % When It Is Not an Escape
  "valid/esc02.dat": {
    outcome: "accept",
    check: (m) => {
      const r = req(m);
      expect(r.method).toBe("RE%47IST%45R");
      expect(toAddr(r).displayName).toBe("%Z%45");
      expect(topVia(r).params.get("branch")).toBe("z9hG4bK209%fzsnel234");
      // C%6Fntact is its own unknown header, not a third Contact.
      expect(contacts(r)).toHaveLength(2);
      expect(getHeader(r, "c%6fntact")).toBe("<sip:alias2@host2.example.com>");
    },
  },
  // §3.1.1.6 Message with No LWS between Display Name and <
  "valid/lwsdisp.dat": { outcome: "accept", check: (m) => expect(fromAddr(m).displayName).toBe("caller") },
  // §3.1.1.7 Long Values in Header Fields
  "valid/longreq.dat": {
    outcome: "accept",
    check: (m) => {
      const r = req(m);
      expect(allVias(r)).toHaveLength(34);
      expect(topVia(r).host).toBe("sip33.example.com");
      const to = toAddr(r);
      expect(to.displayName).toMatch(/^I have a user name of (extreme){10} proportion$/);
      expect(to.uri.port).toBe(6000);
      expect(to.uri.params.size).toBe(3);
      expect(fromAddr(r).params.get("tag")).toHaveLength(155);
      expect(getHeader(r, `unknown-${"long".repeat(20)}-name`)).toMatch(/^unknown-long/);
    },
  },
  // §3.1.1.8 Extra Trailing Octets in a UDP Datagram
  "valid/dblreq.dat": {
    outcome: "accept",
    check: (m) => {
      const r = req(m);
      expect(r.method).toBe("REGISTER");
      expect(r.body.length).toBe(0);
      expect(callId(r)).toBe("dblreq.0ha0isndaksdj99sdfafnl3lk233412");
    },
  },
  // §3.1.1.9 Semicolon-Separated Parameters in URI User Part
  "valid/semiuri.dat": {
    outcome: "accept",
    check: (m) => {
      const r = req(m);
      expect(r.uri.user).toBe("user;par=u@example.net");
      expect(r.uri.host).toBe("example.com");
      expect(r.uri.params.size).toBe(0);
      expect(getHeaders(r, "accept")).toHaveLength(6);
    },
  },
  // §3.1.1.10 Varied and Unknown Transport Types
  "valid/transports.dat": {
    outcome: "accept",
    check: (m) => expect(allVias(m).map((v) => v.transport)).toEqual(["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]),
  },
  // §3.1.1.11 Multipart MIME Message
  "valid/mpart01.dat": {
    outcome: "accept",
    check: (m) => {
      expect(m.body.length).toBe(553);
      expect(getHeader(m, "content-type")).toBe("multipart/mixed;boundary=7a9cbec02ceef655");
      expect(m.body.subarray(0, 18).toString()).toBe("--7a9cbec02ceef655");
    },
  },
  // §3.1.1.12 Unusual Reason Phrase
  "valid/unreason.dat": {
    outcome: "accept",
    check: (m) => {
      const r = res(m);
      expect(r.status).toBe(200);
      expect(r.reason).toBe("= 2**3 * 5**2 но сто девяносто девять - простое");
      expect(r.body.length).toBe(154);
    },
  },
  // §3.1.1.13 Empty Reason Phrase
  "valid/noreason.dat": {
    outcome: "accept",
    check: (m) => {
      expect(res(m).status).toBe(100);
      expect(res(m).reason).toBe("");
    },
  },

  // §3.1.2.1 Extraneous Header Field Separators
  "invalid/badinv01.dat": { outcome: "answer", status: 400 },
  // §3.1.2.2 Content Length Larger Than Message
  "invalid/clerr.dat": { outcome: "reject", status: 400 },
  // §3.1.2.3 Negative Content-Length
  "invalid/ncl.dat": { outcome: "reject", status: 400 },
  // §3.1.2.4 Request Scalar Fields with Overlarge Values (CSeq, Max-Forwards 300)
  "invalid/scalar02.dat": { outcome: "answer", status: 400 },
  // §3.1.2.5 Response Scalar Fields with Overlarge Values
  "invalid/scalarlg.dat": { outcome: "drop-response" },
  // §3.1.2.6 Unterminated Quoted String in Display Name
  "invalid/quotbal.dat": { outcome: "answer", status: 400 },
  // §3.1.2.7 <> Enclosing Request-URI
  "invalid/ltgtruri.dat": { outcome: "reject", status: 400 },
  // §3.1.2.8 Malformed SIP Request-URI (embedded LWS)
  "invalid/lwsruri.dat": { outcome: "reject", status: 400 },
  // §3.1.2.9 Multiple SP Separating Request-Line Elements
  "invalid/lwsstart.dat": { outcome: "reject", status: 400 },
  // §3.1.2.10 SP Characters at End of Request-Line
  "invalid/trws.dat": { outcome: "reject", status: 400 },
  // §3.1.2.11 Escaped Headers in SIP Request-URI
  "invalid/escruri.dat": { outcome: "reject", status: 400 },
  // §3.1.2.12 Invalid Time Zone in Date Header Field
  "invalid/baddate.dat": { outcome: "answer", status: 400 },
  // §3.1.2.13 Failure to Enclose name-addr URI in <>
  "invalid/regbadct.dat": { outcome: "answer", status: 400 },
  // §3.1.2.14 Spaces within addr-spec
  "invalid/badaspec.dat": { outcome: "answer", status: 400 },
  // §3.1.2.15 Non-token Characters in Display Name (also lacks the final empty line)
  "invalid/baddn.dat": { outcome: "answer", status: 400 },
  // §3.1.2.16 Unknown Protocol Version
  "invalid/badvers.dat": { outcome: "reject", status: 505 },
  // §3.1.2.17 Start Line and CSeq Method Mismatch
  "invalid/mismatch01.dat": { outcome: "answer", status: 400 },
  // §3.1.2.18 Unknown Method with CSeq Method Mismatch (400, not 501)
  "invalid/mismatch02.dat": { outcome: "answer", status: 400 },
  // §3.1.2.19 Overlarge Response Code: a response, so dropped without an answer
  "invalid/bigcode.dat": { outcome: "reject", status: undefined },
  // §3.2.1 Missing Transaction Identifier: valid; the branch is just the cookie
  "invalid/badbranch.dat": { outcome: "accept", check: (m) => expect(topVia(m).params.get("branch")).toBe("z9hG4bK") },
  // §3.3.1 Missing Required Header Fields
  "invalid/insuf.dat": { outcome: "answer", status: 400 },
  // §3.3.2 Request-URI with Unknown Scheme
  "invalid/unkscm.dat": { outcome: "reject", status: 416 },
  // §3.3.3 Request-URI with Known but Atypical Scheme
  "invalid/novelsc.dat": { outcome: "reject", status: 416 },
  // §3.3.4 Unknown URI Schemes in Header Fields: a registrar answers 400 (To must be SIP)
  "invalid/unksm2.dat": { outcome: "answer", status: 400 },
  // §3.3.5 Proxy-Require and Require: 420 listing both unknown tags
  "invalid/bext01.dat": {
    outcome: "answer",
    status: 420,
    opts: { supported: ["100rel", "timer"] },
    check: (m) => {
      const v = validateRequest(req(m), { supported: ["100rel", "timer"] });
      expect(v.ok === false && v.unsupported).toEqual(["nothingSupportsThis", "nothingSupportsThisEither"]);
    },
  },
  // §3.3.6 Unknown Content-Type
  "invalid/invut.dat": { outcome: "answer", status: 415, opts: { accept: ["application/sdp"] } },
  // §3.3.7 Unknown Authorization Scheme: well-formed; the registrar challenges (401)
  "invalid/regaut01.dat": {
    outcome: "accept",
    check: (m) => {
      const a = parseAuthParams(getHeader(m, "authorization")!);
      expect(a.scheme).toBe("NoOneKnowsThisScheme");
      expect(a.params.get("opaque-data")).toBe("here");
    },
  },
  // §3.3.8 Multiple Values in Single Value Required Fields
  "invalid/multi01.dat": { outcome: "answer", status: 400 },
  // §3.3.9 Multiple Content-Length Values
  "invalid/mcl01.dat": { outcome: "reject", status: 400 },
  // §3.3.10 200 OK Response with Broadcast Via Header Field Value: parses; the UAC drops it
  "invalid/bcast.dat": { outcome: "accept", check: (m) => expect(allVias(m)[1]!.host).toBe("255.255.255.255") },
  // §3.3.11 Max-Forwards of Zero: valid for the element it is addressed to
  "invalid/zeromf.dat": { outcome: "accept", check: (m) => expect(maxForwards(m)).toBe(0) },
  // §3.3.12 REGISTER with a Contact Header Parameter
  "invalid/cparam01.dat": {
    outcome: "accept",
    check: (m) => {
      const c = contacts(m)[0];
      if (c === undefined || c === "*") throw new Error("no contact");
      expect(c.uri.params.size).toBe(0);
      expect(c.params.get("unknownparam")).toBeNull();
    },
  },
  // §3.3.13 REGISTER with a URL Parameter
  "invalid/cparam02.dat": {
    outcome: "accept",
    check: (m) => {
      const c = contacts(m)[0];
      if (c === undefined || c === "*") throw new Error("no contact");
      expect(c.uri.params.get("unknownparam")).toBeNull();
      expect(c.params.size).toBe(0);
    },
  },
  // §3.3.14 REGISTER with a URL Escaped Header
  "invalid/regescrt.dat": {
    outcome: "accept",
    check: (m) => {
      const c = contacts(m)[0];
      if (c === undefined || c === "*") throw new Error("no contact");
      expect(c.uri.headers.get("Route")).toBe("<sip:sip.example.com>");
    },
  },
  // §3.3.15 Unacceptable Accept Offering: well-formed; the UAS answers 406
  "invalid/sdp01.dat": { outcome: "accept", check: (m) => expect(getHeader(m, "accept")).toBe("text/nobodyKnowsThis") },
  // §3.4.1 INVITE with RFC 2543 Syntax: no branch, no Max-Forwards; still served
  "invalid/inv2543.dat": {
    outcome: "accept",
    check: (m) => {
      expect(maxForwards(m)).toBeUndefined();
      expect(topVia(m).params.has("branch")).toBe(false);
    },
  },
  // Not from RFC 4475 (sipgo's extra): Request-Line without a SIP-Version.
  "invalid/test.dat": { outcome: "reject", status: 400 },
};

function files(): string[] {
  const out: string[] = [];
  for (const d of ["valid", "invalid"]) for (const f of readdirSync(ROOT + d).sort()) if (f.endsWith(".dat")) out.push(`${d}/${f}`);
  return out;
}

describe("RFC 4475 torture messages", () => {
  const all = files();

  it("finds all 50 messages, each with an expectation", () => {
    expect(all).toHaveLength(50);
    expect(all.filter((f) => !(f in TABLE))).toEqual([]);
    expect(Object.keys(TABLE).filter((f) => !all.includes(f))).toEqual([]);
  });

  for (const file of all) {
    it(file, () => {
      const exp = TABLE[file];
      if (!exp) throw new Error(`no expectation for ${file}`);
      const buf = readFileSync(ROOT + file);
      if (exp.outcome === "reject") {
        let err: unknown;
        try {
          parseMessage(buf);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(SipParseError);
        expect((err as SipParseError).status).toBe(exp.status);
        return;
      }
      const m = parseMessage(buf);
      if (exp.outcome === "drop-response") {
        expect(m.kind).toBe("response");
        expect(validateResponse(m as SipResponse).ok).toBe(false);
        return;
      }
      if (exp.outcome === "answer") {
        const v = validateRequest(req(m), exp.opts);
        expect(v.ok ? 200 : v.status).toBe(exp.status);
        exp.check?.(m);
        return;
      }
      if (m.kind === "request") expect(validateRequest(m, exp.opts)).toEqual({ ok: true });
      else expect(validateResponse(m)).toEqual({ ok: true });
      exp.check?.(m);
    });
  }

  it("bext01 and invut are fine for a server that does not restrict extensions or types", () => {
    for (const f of ["invalid/bext01.dat", "invalid/invut.dat"]) {
      expect(validateRequest(req(parseMessage(readFileSync(ROOT + f))))).toEqual({ ok: true });
    }
  });

  it("a request rejected at parse time carries its headers so the server can answer", () => {
    try {
      parseMessage(readFileSync(ROOT + "invalid/badvers.dat"));
      throw new Error("parsed");
    } catch (e) {
      expect(e).toBeInstanceOf(SipParseError);
      expect((e as SipParseError).headers?.some((h) => h.name === "call-id" && h.value === "badvers.31417@c.example.com")).toBe(true);
    }
  });
});
