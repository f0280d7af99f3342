/**
 * SIP message parser from a datagram (RFC 3261 §7, grammar §25). Only the framing is
 * parsed here: start line, header lines (names canonicalised, folded lines joined, §7.3.1)
 * and the body by Content-Length (§18.3, §20.14). Header values stay raw; `headers.ts`
 * parses the ones a layer asks for. Semantic checks a server makes before answering are in
 * `validate.ts` (RFC 4475 separates the two the same way).
 */
import type { Header, SipMessage, SipUri } from "./types.js";
import { SipParseError } from "./types.js";
import { headerKey } from "./header-names.js";
import { TOKEN, allIn, isDigits, trimWs } from "./scan.js";
import { parseUri } from "./uri.js";

/** §18.1.1 / RFC 3261 UDP: nothing above 65535 octets can arrive in one datagram. */
export const MAX_MESSAGE_SIZE = 65535;

const CRLFCRLF = Buffer.from("\r\n\r\n");
const LFLF = Buffer.from("\n\n");

interface StartLine {
  request: boolean;
  method: string;
  uri: SipUri | undefined;
  status: number;
  reason: string;
  /** A request-line problem found before the headers were read; thrown with them. */
  error: SipParseError | undefined;
}

export function parseMessage(buf: Buffer): SipMessage {
  if (buf.length > MAX_MESSAGE_SIZE) throw new SipParseError("message larger than 65535 octets", 513);
  // §7.5: CRLFs before the start line are ignored (keep-alives, sloppy stacks).
  let start = 0;
  while (start < buf.length && (buf[start] === 13 || buf[start] === 10)) start++;
  if (start >= buf.length) throw new SipParseError("empty message");

  let headEnd = buf.indexOf(CRLFCRLF, start);
  let bodyStart = headEnd + 4;
  const lf = buf.indexOf(LFLF, start);
  if (lf >= 0 && (headEnd < 0 || lf < headEnd)) {
    headEnd = lf;
    bodyStart = lf + 2;
  }
  if (headEnd < 0) {
    // Tolerated: a datagram ending right after its last header line, without the empty
    // line (RFC 4475 baddn ships that way). Anything cut mid-line is a truncation.
    const last = buf[buf.length - 1];
    if (last !== 10) throw new SipParseError("no end of header section");
    headEnd = buf.length;
    bodyStart = buf.length;
  }
  const head = buf.toString("utf8", start, headEnd);

  let lineEnd = head.indexOf("\n");
  if (lineEnd < 0) lineEnd = head.length;
  const first = head.charCodeAt(lineEnd - 1) === 13 ? head.slice(0, lineEnd - 1) : head.slice(0, lineEnd);
  const sl = parseStartLine(first);

  const headers: Header[] = [];
  let pos = lineEnd + 1;
  let error: SipParseError | undefined = sl.error;
  while (pos < head.length) {
    let e = head.indexOf("\n", pos);
    if (e < 0) e = head.length;
    const line = head.charCodeAt(e - 1) === 13 ? head.slice(pos, e - 1) : head.slice(pos, e);
    pos = e + 1;
    // A CR that does not end the line has no place in a header (§7.3.1 allows CRLF only as
    // a line end or in folding); keeping it would change the value on the way back out.
    if (line.indexOf("\r") >= 0) {
      error ??= new SipParseError("bare CR in a header line", 400);
      continue;
    }
    const c0 = line.charCodeAt(0);
    if (c0 === 32 || c0 === 9) {
      // §7.3.1: a line starting with whitespace continues the previous header (LWS folding).
      const prev = headers[headers.length - 1];
      if (prev === undefined) {
        error ??= new SipParseError("continuation line before any header", 400);
        continue;
      }
      const more = trimWs(line);
      if (more.length > 0) prev.value = prev.value.length > 0 ? prev.value + " " + more : more;
      continue;
    }
    if (line.length === 0) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) {
      error ??= new SipParseError("header line without ':'", 400);
      continue;
    }
    // HCOLON = *( SP / HTAB ) ":" SWS (§25.1): `Via  : x` is legal.
    const name = trimEndWs(line.slice(0, colon));
    if (!allIn(TOKEN, name)) {
      error ??= new SipParseError(`bad header name ${JSON.stringify(name)}`, 400);
      continue;
    }
    headers.push({ name: headerKey(name), value: trimWs(line.slice(colon + 1)) });
  }

  if (!sl.request) {
    // A broken response is dropped, never answered (§18.1.2): no status.
    if (error) throw new SipParseError(error.message);
  } else if (error) {
    throw new SipParseError(error.message, error.status ?? 400, headers);
  }

  const body = readBody(buf, bodyStart, headers, sl.request);
  if (sl.request) {
    return { kind: "request", method: sl.method, uri: sl.uri!, version: "SIP/2.0", headers, body };
  }
  return { kind: "response", status: sl.status, reason: sl.reason, version: "SIP/2.0", headers, body };
}

function readBody(buf: Buffer, bodyStart: number, headers: Header[], request: boolean): Buffer {
  let declared: string | undefined;
  for (const h of headers) {
    if (h.name !== "content-length") continue;
    // RFC 4475 §3.3.9 mcl01: two different lengths leave the framing unknowable.
    if (declared !== undefined && declared !== h.value) throw framing("conflicting Content-Length values", request, headers);
    declared = h.value;
  }
  const available = Math.max(0, buf.length - bodyStart);
  if (declared === undefined) return available > 0 ? Buffer.from(buf.subarray(bodyStart)) : EMPTY;
  // RFC 4475 §3.1.2.3 ncl: Content-Length is 1*DIGIT; a sign or junk is a 400.
  if (!isDigits(declared) || declared.length > 6) throw framing("bad Content-Length", request, headers);
  const len = Number(declared);
  // §18.3: over UDP, a Content-Length beyond the datagram is an error (RFC 4475 clerr);
  // octets beyond it are discarded (RFC 4475 dblreq).
  if (len > available) throw framing("Content-Length larger than the message", request, headers);
  if (len === 0) return EMPTY;
  // A copy: the transport may reuse its receive buffer for the next datagram.
  return Buffer.from(buf.subarray(bodyStart, bodyStart + len));
}

const EMPTY = Buffer.alloc(0);

function framing(what: string, request: boolean, headers: Header[]): SipParseError {
  return request ? new SipParseError(what, 400, headers) : new SipParseError(what);
}

function parseStartLine(line: string): StartLine {
  const sl: StartLine = { request: false, method: "", uri: undefined, status: 0, reason: "", error: undefined };
  if (line.length > 4 && line.slice(0, 4).toUpperCase() === "SIP/") {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.2, §25.1).
    const sp = line.indexOf(" ");
    if (sp < 0 || line.slice(0, sp).toUpperCase() !== "SIP/2.0") throw new SipParseError("bad response version");
    const code = line.slice(sp + 1, sp + 4);
    // Exactly three digits, 100–699 (RFC 4475 §3.1.2.19 bigcode).
    if (code.length !== 3 || !isDigits(code) || code.charCodeAt(0) < 49 || code.charCodeAt(0) > 54) throw new SipParseError("bad status code");
    const rest = line.slice(sp + 4);
    // The SP before an empty reason is required by the grammar; its absence is tolerated.
    if (rest.length > 0 && rest.charCodeAt(0) !== 32) throw new SipParseError("bad status code");
    sl.status = Number(code);
    sl.reason = rest.slice(1);
    return sl;
  }
  sl.request = true;
  // Request-Line = Method SP Request-URI SP SIP-Version: single spaces, nothing after the
  // version (RFC 4475 §3.1.2.8 lwsruri, §3.1.2.9 lwsstart, §3.1.2.10 trws).
  const parts = line.split(" ");
  if (parts.length !== 3 || !parts[0] || !parts[1] || !parts[2]) {
    sl.error = new SipParseError("malformed Request-Line", 400);
    return sl;
  }
  const [method, uriText, version] = parts as [string, string, string];
  if (!allIn(TOKEN, method)) {
    sl.error = new SipParseError("bad method", 400);
    return sl;
  }
  sl.method = method;
  if (version !== "SIP/2.0") {
    // §8.2.2 / §21.5.6: a SIP version we do not speak is a 505 (RFC 4475 §3.1.2.16 badvers).
    const v = version.toUpperCase();
    if (v === "SIP/2.0") {
      // SIP-Version's literal is case-insensitive (§25.1, §7.1).
    } else if (/^SIP\/\d+\.\d+$/.test(v)) {
      sl.error = new SipParseError(`unsupported version ${version}`, 505);
      return sl;
    } else {
      sl.error = new SipParseError("bad SIP-Version", 400);
      return sl;
    }
  }
  try {
    sl.uri = parseUri(uriText);
  } catch (e) {
    sl.error = e instanceof SipParseError ? new SipParseError(e.message, e.status ?? 400) : new SipParseError("bad Request-URI", 400);
    return sl;
  }
  // The Request-URI may not carry headers (§19.1.1 table; RFC 4475 §3.1.2.11 escruri).
  if (sl.uri.headers.size > 0) sl.error = new SipParseError("Request-URI with headers", 400);
  return sl;
}

function trimEndWs(s: string): string {
  let e = s.length;
  while (e > 0 && (s.charCodeAt(e - 1) === 32 || s.charCodeAt(e - 1) === 9)) e--;
  return e === s.length ? s : s.slice(0, e);
}
