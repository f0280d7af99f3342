/**
 * Building messages: responses per RFC 3261 §8.2.6 and the stack's own requests (§8.1.1).
 */
import type { Header, NameAddr, SipRequest, SipResponse, SipUri, Via } from "./types.js";
import { SipParseError } from "./types.js";
import { formatNameAddr, parseNameAddr } from "./name-addr.js";
import { formatVia } from "./via.js";
import { parseUri } from "./uri.js";
import { headerKey } from "./header-names.js";
import { newCallId, newTag } from "./random.js";

export { newBranch, newCallId, newTag } from "./random.js";

/** §21 plus the extension codes a gateway meets (RFC 3265/6665, 3329, 4028, 3312, 6228…). */
const REASONS: Record<number, string> = {
  100: "Trying",
  180: "Ringing",
  181: "Call Is Being Forwarded",
  182: "Queued",
  183: "Session Progress",
  199: "Early Dialog Terminated", // RFC 6228
  200: "OK",
  202: "Accepted", // RFC 3265
  204: "No Notification", // RFC 5839
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Moved Temporarily",
  305: "Use Proxy",
  380: "Alternative Service",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  410: "Gone",
  412: "Conditional Request Failed", // RFC 3903
  413: "Request Entity Too Large",
  414: "Request-URI Too Long",
  415: "Unsupported Media Type",
  416: "Unsupported URI Scheme",
  420: "Bad Extension",
  421: "Extension Required",
  422: "Session Interval Too Small", // RFC 4028
  423: "Interval Too Brief",
  428: "Use Identity Header", // RFC 4474
  429: "Provide Referrer Identity", // RFC 3892
  433: "Anonymity Disallowed", // RFC 5079
  480: "Temporarily Unavailable",
  481: "Call/Transaction Does Not Exist",
  482: "Loop Detected",
  483: "Too Many Hops",
  484: "Address Incomplete",
  485: "Ambiguous",
  486: "Busy Here",
  487: "Request Terminated",
  488: "Not Acceptable Here",
  489: "Bad Event", // RFC 3265
  491: "Request Pending",
  493: "Undecipherable",
  494: "Security Agreement Required", // RFC 3329
  500: "Server Internal Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Server Time-out",
  505: "Version Not Supported",
  513: "Message Too Large",
  580: "Precondition Failure", // RFC 3312
  600: "Busy Everywhere",
  603: "Decline",
  604: "Does Not Exist Anywhere",
  606: "Not Acceptable",
  607: "Unwanted", // RFC 8197
};

const CLASS_REASONS = ["", "Provisional", "Success", "Redirection", "Client Error", "Server Error", "Global Failure"];

/** Default reason phrase; an unknown code gets its class's name (§21: the class is what counts). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? CLASS_REASONS[Math.floor(status / 100)] ?? "Unknown";
}

export interface ResponseOptions {
  /** To tag to add when the request's To has none (§8.2.6.2; not for 100 Trying). */
  toTag?: string;
  /** Extra headers appended after the copied ones. */
  headers?: Header[];
  body?: Buffer;
  /** Content-Type for a body (default application/sdp). */
  contentType?: string;
  /**
   * Copy Record-Route (§12.1.1: a response that establishes a dialog echoes it). Default:
   * for 101–299 responses to INVITE / SUBSCRIBE / REFER / NOTIFY.
   */
  recordRoute?: boolean;
}

const DIALOG_METHODS = new Set(["INVITE", "SUBSCRIBE", "REFER", "NOTIFY"]);

/**
 * §8.2.6.2: From, Call-ID, CSeq and every Via are copied in order; To is copied and gets
 * the tag when given and absent. §8.2.6.1: a 100 copies Timestamp.
 */
export function createResponse(req: SipRequest, status: number, reason?: string, opts: ResponseOptions = {}): SipResponse {
  return buildResponse(req.headers, req.method, status, reason, opts);
}

function buildResponse(src: Header[], method: string, status: number, reason: string | undefined, opts: ResponseOptions): SipResponse {
  const headers: Header[] = [];
  const rr = opts.recordRoute ?? (status > 100 && status < 300 && DIALOG_METHODS.has(method));
  for (const h of src) {
    switch (h.name) {
      case "via":
      case "from":
      case "call-id":
      case "cseq":
        headers.push({ name: h.name, value: h.value });
        break;
      case "to":
        headers.push({ name: "to", value: opts.toTag !== undefined && status !== 100 ? withTag(h.value, opts.toTag) : h.value });
        break;
      case "record-route":
        if (rr) headers.push({ name: h.name, value: h.value });
        break;
      case "timestamp":
        if (status === 100) headers.push({ name: h.name, value: h.value });
        break;
    }
  }
  if (opts.headers) for (const h of opts.headers) headers.push({ name: headerKey(h.name), value: h.value });
  const body = opts.body ?? Buffer.alloc(0);
  if (body.length > 0 && !headers.some((h) => h.name === "content-type")) {
    headers.push({ name: "content-type", value: opts.contentType ?? "application/sdp" });
  }
  headers.push({ name: "content-length", value: String(body.length) });
  return { kind: "response", status, reason: reason ?? reasonPhrase(status), version: "SIP/2.0", headers, body };
}

/** Adds `;tag=` to a To value unless it already has one (parsing only when needed). */
function withTag(to: string, tag: string): string {
  try {
    const na = parseNameAddr(to);
    if (na.params.has("tag")) return to;
    return to + ";tag=" + tag;
  } catch {
    return to;
  }
}

/**
 * The answer a server sends to a request that failed to parse (400/416/505/513), built
 * from the header lines the parser did read. Undefined when there is nothing to answer
 * (a response, a datagram without Via/From/To/Call-ID/CSeq).
 */
export function responseForParseError(err: SipParseError): SipResponse | undefined {
  if (err.status === undefined || err.headers === undefined) return undefined;
  const hs = err.headers;
  for (const need of ["via", "from", "to", "call-id", "cseq"]) if (!hs.some((h) => h.name === need)) return undefined;
  const cseqValue = hs.find((h) => h.name === "cseq")!.value;
  const method = cseqValue.trim().split(/\s+/)[1] ?? "";
  if (method === "ACK") return undefined; // §17.2.3: never answer an ACK
  return buildResponse(hs, method, err.status, undefined, { toTag: newTag(), recordRoute: false });
}

export interface RequestInit {
  method: string;
  uri: SipUri | string;
  /** From; a tag is added when missing (§8.1.1.3). */
  from: NameAddr | string;
  to: NameAddr | string;
  /** Default: a new Call-ID at the From host. */
  callId?: string;
  /** Default 1. */
  cseq?: number;
  /** Usually left to the transaction layer, which owns the branch (§17.1.1.1). */
  via?: Via | string;
  /** Default 70 (§8.1.1.6). */
  maxForwards?: number;
  contact?: NameAddr | string;
  /** Route set values, in order (§8.1.2). */
  route?: string[];
  headers?: Header[];
  body?: Buffer;
  contentType?: string;
}

/** §8.1.1: a request with the six mandatory headers (Via when given) in the usual order. */
export function createRequest(init: RequestInit): SipRequest {
  const uri = typeof init.uri === "string" ? parseUri(init.uri) : init.uri;
  const from = typeof init.from === "string" ? parseNameAddr(init.from) : init.from;
  const fromValue = formatNameAddr(from.params.has("tag") ? from : { ...from, params: new Map([...from.params, ["tag", newTag()]]) });
  const to = typeof init.to === "string" ? init.to : formatNameAddr(init.to);
  const headers: Header[] = [];
  if (init.via !== undefined) headers.push({ name: "via", value: typeof init.via === "string" ? init.via : formatVia(init.via) });
  headers.push({ name: "max-forwards", value: String(init.maxForwards ?? 70) });
  for (const r of init.route ?? []) headers.push({ name: "route", value: r });
  headers.push({ name: "from", value: fromValue });
  headers.push({ name: "to", value: to });
  headers.push({ name: "call-id", value: init.callId ?? newCallId(from.uri.host || undefined) });
  headers.push({ name: "cseq", value: `${init.cseq ?? 1} ${init.method}` });
  if (init.contact !== undefined) headers.push({ name: "contact", value: typeof init.contact === "string" ? init.contact : formatNameAddr(init.contact) });
  if (init.headers) for (const h of init.headers) headers.push({ name: headerKey(h.name), value: h.value });
  const body = init.body ?? Buffer.alloc(0);
  if (body.length > 0 && !headers.some((h) => h.name === "content-type")) {
    headers.push({ name: "content-type", value: init.contentType ?? "application/sdp" });
  }
  headers.push({ name: "content-length", value: String(body.length) });
  return { kind: "request", method: init.method, uri, version: "SIP/2.0", headers, body };
}
