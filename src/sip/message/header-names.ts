/**
 * Header names: compact forms (RFC 3261 §7.3.3 and the extensions that added letters),
 * canonical long lowercase keys for the model, capitalised names for the wire, and which
 * headers are comma-separated lists (§7.3.1: only those whose grammar is `#element`).
 */

/** Compact letter → long lowercase name. */
const COMPACT: Record<string, string> = {
  a: "accept-contact", // RFC 3841
  b: "referred-by", // RFC 3892
  c: "content-type",
  d: "request-disposition", // RFC 3841
  e: "content-encoding",
  f: "from",
  i: "call-id",
  j: "reject-contact", // RFC 3841
  k: "supported",
  l: "content-length",
  m: "contact",
  n: "identity-info", // RFC 4474
  o: "event", // RFC 6665 (3265)
  r: "refer-to", // RFC 3515
  s: "subject",
  t: "to",
  u: "allow-events", // RFC 6665 (3265)
  v: "via",
  x: "session-expires", // RFC 4028
  y: "identity", // RFC 4474/8224
};

// Exact spellings seen on the wire resolve without lowercasing (parser hot path).
const FAST = new Map<string, string>();
for (const n of ["Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Length", "Content-Type", "Expires", "User-Agent", "Allow", "Supported", "Authorization", "WWW-Authenticate", "Route", "Record-Route", "Call-Id", "Cseq", "Server"]) {
  FAST.set(n, n.toLowerCase());
}
for (const [k, v] of Object.entries(COMPACT)) {
  FAST.set(k, v);
  FAST.set(k.toUpperCase(), v);
}
// The stack's own lookups use the canonical names ("to", "call-id"): every getHeader did a
// miss here and a toLowerCase (1 % of the CPU at 400 calls/s).
for (const v of [...FAST.values(), "proxy-authorization", "proxy-authenticate", "require", "proxy-require", "record-route", "route", "date", "rseq", "rack", "reason", "refer-to", "referred-by", "replaces"]) {
  if (v.length > 1) FAST.set(v, v);
}

/** Any spelling (long or compact, any case) → canonical long lowercase name. */
export function headerKey(name: string): string {
  const f = FAST.get(name);
  if (f !== undefined) return f;
  const lower = name.toLowerCase();
  if (lower.length === 1) return COMPACT[lower] ?? lower;
  return lower;
}

/** Long lowercase name → compact letter, for callers that want to save bytes. */
export function compactOf(key: string): string | undefined {
  for (const [k, v] of Object.entries(COMPACT)) if (v === key) return k;
  return undefined;
}

const WIRE: Record<string, string> = {
  "call-id": "Call-ID",
  cseq: "CSeq",
  "www-authenticate": "WWW-Authenticate",
  "mime-version": "MIME-Version",
  rack: "RAck",
  rseq: "RSeq",
  "sip-etag": "SIP-ETag",
  "sip-if-match": "SIP-If-Match",
  "content-id": "Content-ID",
  "p-called-party-id": "P-Called-Party-ID",
  "p-visited-network-id": "P-Visited-Network-ID",
  "p-dcs-osps": "P-DCS-OSPS",
  "p-dcs-billing-info": "P-DCS-Billing-Info",
  "p-dcs-laes": "P-DCS-LAES",
  "p-dcs-redirect": "P-DCS-Redirect",
  "p-asserted-identity": "P-Asserted-Identity",
  "p-preferred-identity": "P-Preferred-Identity",
  "user-to-user": "User-to-User",
  "min-se": "Min-SE", // RFC 4028
  "p-charging-vector": "P-Charging-Vector",
  "p-access-network-info": "P-Access-Network-Info",
};

const wireCache = new Map<string, string>();

/** Canonical wire spelling: `call-id` → `Call-ID`, `x-foo-bar` → `X-Foo-Bar`. */
export function wireName(key: string): string {
  const w = WIRE[key] ?? wireCache.get(key);
  if (w !== undefined) return w;
  let out = "";
  let up = true;
  for (let i = 0; i < key.length; i++) {
    const ch = key[i]!;
    out += up ? ch.toUpperCase() : ch;
    up = ch === "-";
  }
  // Bounded: a peer inventing header names must not grow memory without end.
  if (wireCache.size < 512) wireCache.set(key, out);
  return out;
}

/**
 * Headers whose grammar is a comma-separated list (§7.3.1), so that several values may
 * share one line. Deliberately absent: WWW-Authenticate, Authorization and the other
 * credentials (commas separate auth-params), Date, Call-ID, CSeq, From, To, Retry-After…
 */
export const LIST_HEADERS: ReadonlySet<string> = new Set([
  "via",
  "contact",
  "route",
  "record-route",
  "path", // RFC 3327
  "service-route", // RFC 3608
  "allow",
  "allow-events",
  "supported",
  "require",
  "proxy-require",
  "unsupported",
  "accept",
  "accept-encoding",
  "accept-language",
  "accept-contact",
  "reject-contact",
  "request-disposition",
  "alert-info",
  "call-info",
  "error-info",
  "in-reply-to",
  "content-encoding",
  "content-language",
  "warning",
  "p-asserted-identity", // RFC 3325
  "p-preferred-identity",
  "p-associated-uri", // RFC 7315
  "history-info", // RFC 7044
  "reason", // RFC 3326
  "security-client", // RFC 3329
  "security-server",
  "security-verify",
]);
