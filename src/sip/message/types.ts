/**
 * The SIP message model (RFC 3261 §7). Shared contract of the whole stack: the parser
 * produces these, the serializer writes them, transactions and dialogs read them.
 *
 * Headers are kept in arrival order as raw values under their canonical long lowercase
 * name (compact forms `v i f t m l k x c s e o u r b` are expanded at parse time, §7.3.3),
 * so a proxy-like B2BUA can copy what it does not understand. Structured views
 * (Via, name-addr, CSeq, URI) are parsed on demand by the helpers in `headers.ts`.
 */

/** Header parameters and URI parameters: name (lowercased) → value, `null` for a flag (`;lr`). */
export type Params = Map<string, string | null>;

/** A SIP or SIPS URI (RFC 3261 §19.1), or a `tel:` URI (RFC 3966) kept minimal. */
export interface SipUri {
  scheme: "sip" | "sips" | "tel";
  /** Unescaped user part (for tel: the number). */
  user?: string;
  password?: string;
  /** Host as written; an IPv6 reference keeps its brackets: `[2001:db8::1]`. */
  host: string;
  port?: number;
  params: Params;
  /** `?h=v&…` headers of the URI, unescaped. */
  headers: Map<string, string>;
}

/** `"Display" <sip:…>;tag=x` or `sip:…;tag=x` (RFC 3261 §20.10, §20.20, §20.39). */
export interface NameAddr {
  displayName?: string;
  uri: SipUri;
  /** Header parameters after the address: tag, expires, q, … */
  params: Params;
}

/** One Via value (RFC 3261 §20.42, RFC 3581 rport). */
export interface Via {
  /** `SIP/2.0/UDP` → "UDP" (uppercased). */
  transport: string;
  host: string;
  port?: number;
  /** branch, received, rport (`null` when the flag has no value), maddr, ttl, … */
  params: Params;
}

export interface CSeq {
  seq: number;
  method: string;
}

/** One header as it appeared: canonical long lowercase name and raw (unfolded, trimmed) value. */
export interface Header {
  name: string;
  value: string;
}

interface MessageBase {
  /** Always "SIP/2.0" for accepted messages. */
  version: string;
  /** Headers in order; repeated and comma-joined headers both appear as they came. */
  headers: Header[];
  body: Buffer;
}

export interface SipRequest extends MessageBase {
  kind: "request";
  /** Uppercase token, e.g. "INVITE" (extension methods kept as sent). */
  method: string;
  uri: SipUri;
}

export interface SipResponse extends MessageBase {
  kind: "response";
  status: number;
  reason: string;
}

export type SipMessage = SipRequest | SipResponse;

/** Where a datagram came from or goes to. */
export interface Endpoint {
  address: string;
  port: number;
}

/**
 * A parse failure. `status` is the response a server should send when the message is a
 * request whose headers were good enough to answer (RFC 4475 §3.3: 400, 416, 505, …);
 * undefined when the message must simply be dropped.
 */
export class SipParseError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /**
     * The header lines parsed before the failure, when the start line was a request and
     * the header section could be read: enough for the transport to answer 400/416/505
     * (see `responseForParseError` in build.ts). Undefined otherwise.
     */
    readonly headers?: Header[],
  ) {
    super(message);
    this.name = "SipParseError";
  }
}
