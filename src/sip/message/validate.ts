/**
 * Is a syntactically parsed request usable by a server (RFC 3261 §8.2, §16.3)? Separate
 * from parsing, as RFC 4475 separates "unparseable" from "well-formed, answer 400/416/505".
 * Only the headers every layer relies on are checked, so an unknown header with odd
 * content never costs a call.
 */
import type { SipMessage, SipRequest, SipResponse } from "./types.js";
import { SipParseError } from "./types.js";
import { getHeader, getHeaders, maxForwards, parseCSeq, parseDeltaSeconds, splitList } from "./headers.js";
import { parseNameAddr } from "./name-addr.js";
import { parseVia } from "./via.js";
import { isDigits } from "./scan.js";

export type ValidationResult =
  | { ok: true }
  | {
      ok: false;
      status: number;
      reason: string;
      /** For 420: the option tags to list in Unsupported (§8.2.2.3). */
      unsupported?: string[];
    };

export interface ValidateOptions {
  /** Option tags this server supports; when given, an unknown Require gets 420 (§8.2.2.3). */
  supported?: readonly string[];
  /** Content types accepted in bodies; when given, anything else gets 415 (§8.2.3). */
  accept?: readonly string[];
}

/** Headers that must appear at most once (§7.3.1: not lists; RFC 4475 §3.3.8 multi01). */
const SINGLE = ["to", "from", "call-id", "cseq", "max-forwards", "content-type", "expires"];

export function validateRequest(req: SipRequest, opts: ValidateOptions = {}): ValidationResult {
  if (req.version !== "SIP/2.0") return fail(505, "Version Not Supported");
  if (req.uri.scheme !== "sip" && req.uri.scheme !== "sips" && req.uri.scheme !== "tel") return fail(416, "Unsupported URI Scheme");
  const common = validateCommon(req);
  if (common) return fail(400, common);

  // CSeq method must be the request's (§8.2 / RFC 4475 §3.1.2.17–18 mismatch01/02).
  const cs = parseCSeq(getHeader(req, "cseq")!);
  if (cs.method !== req.method) return fail(400, "CSeq method does not match the request");
  if (cs.seq >= 2 ** 31) return fail(400, "CSeq number too large"); // §8.1.1.5

  const bad = guard(() => maxForwards(req));
  if (bad) return fail(400, "Bad Max-Forwards");

  const check = guard(() => {
    for (const c of getHeaders(req, "contact")) if (c !== "*") parseNameAddr(c);
    for (const r of getHeaders(req, "route")) parseNameAddr(r);
    for (const r of getHeaders(req, "record-route")) parseNameAddr(r);
    const exp = getHeader(req, "expires");
    if (exp !== undefined) parseDeltaSeconds(exp);
  });
  if (check) return fail(400, check);

  // RFC 3261 §20.17 Date is rfc1123-date in GMT only (RFC 4475 §3.1.2.12 baddate).
  const date = getHeader(req, "date");
  if (date !== undefined && !RFC1123.test(date)) return fail(400, "Bad Date");

  if (opts.supported && req.method !== "ACK" && req.method !== "CANCEL") {
    const known = new Set(opts.supported.map((s) => s.toLowerCase()));
    const missing = getHeaders(req, "require").filter((t) => !known.has(t.toLowerCase()));
    if (missing.length > 0) return { ok: false, status: 420, reason: "Bad Extension", unsupported: missing };
  }
  if (opts.accept && req.body.length > 0) {
    const ct = (getHeader(req, "content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (!opts.accept.some((a) => a.toLowerCase() === ct)) return fail(415, "Unsupported Media Type");
  }
  return { ok: true };
}

/**
 * A response a client transaction can match and a UAC can use: the same header checks.
 * A bad response is dropped (§18.1.2), so only `ok` matters; status is 400 for uniformity.
 */
export function validateResponse(res: SipResponse): ValidationResult {
  const common = validateCommon(res);
  return common ? fail(400, common) : { ok: true };
}

function validateCommon(msg: SipMessage): string | undefined {
  // §8.1.1: To, From, CSeq, Call-ID and Via are mandatory (RFC 4475 §3.3.1 insuf).
  for (const name of ["to", "from", "call-id", "cseq", "via"]) {
    if (getHeader(msg, name) === undefined) return `Missing ${name}`;
  }
  for (const name of SINGLE) {
    let n = 0;
    for (const h of msg.headers) if (h.name === name) n++;
    if (n > 1) return `More than one ${name}`;
    // Also catch `To: a, b` on one line for the single-valued address headers.
    if (n === 1 && (name === "to" || name === "from") && splitList(getHeader(msg, name)!).length > 1) return `More than one ${name}`;
  }
  if (getHeader(msg, "call-id")!.length === 0) return "Empty Call-ID";
  const cl = getHeader(msg, "content-length");
  if (cl !== undefined && (!isDigits(cl) || Number(cl) !== msg.body.length)) return "Bad Content-Length";
  return guard(() => {
    parseNameAddr(getHeader(msg, "to")!);
    parseNameAddr(getHeader(msg, "from")!);
    parseCSeq(getHeader(msg, "cseq")!);
    const vias = getHeaders(msg, "via");
    if (vias.length === 0) throw new SipParseError("empty Via", 400);
    for (const v of vias) parseVia(v);
  });
}

function guard(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (e instanceof SipParseError) return e.message;
    throw e;
  }
}

function fail(status: number, reason: string): ValidationResult {
  return { ok: false, status, reason };
}

const RFC1123 = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
