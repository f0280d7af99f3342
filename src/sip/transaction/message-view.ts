/**
 * The few reads and builds the transaction layer needs from messages, in one place so the
 * layer depends on the message module through a narrow seam (parseVia only). Headers are
 * read straight from the model: canonical long lowercase names (types.ts).
 */
import type { CSeq, Endpoint, Header, SipMessage, SipRequest, SipResponse, SipUri, Via } from "../message/types.js";
import { formatUri, newBranch, newTag, parseUri, parseVia, tagOf, validPort } from "../message/index.js";
import { splitHeaderList } from "../transport.js";
import { flatString } from "../../flat-string.js";

/** §8.1.1.7: every branch we create starts with the magic cookie. */
export const MAGIC_COOKIE = "z9hG4bK";

export { newBranch, newTag, tagOf };

export function header(msg: SipMessage, name: string): string | undefined {
  for (const h of msg.headers) if (h.name === name) return h.value;
  return undefined;
}

export function headers(msg: SipMessage, name: string): Header[] {
  return msg.headers.filter((h) => h.name === name);
}

/** The first Via value (the first element of a comma list). */
export function topViaValue(msg: SipMessage): string | undefined {
  const v = header(msg, "via");
  if (v === undefined) return undefined;
  return v.includes(",") ? splitHeaderList(v)[0] : v.trim();
}

export function topVia(msg: SipMessage): Via | undefined {
  const v = topViaValue(msg);
  if (v === undefined) return undefined;
  try {
    return parseVia(v);
  } catch {
    return undefined;
  }
}

export function cseqOf(msg: SipMessage): CSeq | undefined {
  const v = header(msg, "cseq");
  if (!v) return undefined;
  const m = /^\s*(\d{1,10})\s+(\S+)\s*$/.exec(v);
  return m ? { seq: Number(m[1]), method: m[2]! } : undefined;
}

/** A stable string for a Request-URI, for RFC 2543 matching (§17.2.3) only. */
export function uriKey(u: SipUri): string {
  const params = [...u.params].map(([k, v]) => (v === null ? k : `${k}=${v}`)).sort().join(";");
  return `${u.scheme}:${u.user ?? ""}@${u.host.toLowerCase()}:${u.port ?? ""};${params}`;
}

/**
 * §18.2.2 and RFC 3581 §4: where a response to this request goes. With `received`, to that
 * address and the `rport` port (else the sent-by port, else 5060). Without it the sent-by
 * host was the source address (the transport stamps `received` otherwise).
 */
export function viaDestination(via: Via | undefined, fallback: Endpoint | undefined): Endpoint | undefined {
  if (!via) return fallback;
  const received = via.params.get("received");
  const rport = via.params.get("rport");
  const port = rport ? Number(rport) : via.port ?? 5060;
  // The parser refuses ports outside 1–65535; a Via built in code is checked here too, since
  // a send to port 0 or NaN throws instead of failing like a lost datagram.
  if (!validPort(port)) return fallback;
  if (received) return { address: received, port };
  const host = via.host.startsWith("[") ? via.host.slice(1, -1) : via.host;
  if (/^[\d.]+$/.test(host) || host.includes(":")) return { address: host, port };
  return fallback; // a name we cannot resolve here
}

const REASONS: Record<number, string> = {
  100: "Trying",
  200: "OK",
  400: "Bad Request",
  481: "Call/Transaction Does Not Exist",
  487: "Request Terminated",
  500: "Server Internal Error",
  501: "Not Implemented",
};

/**
 * §8.2.6.2: a response copying Via (all, in order), From, To, Call-ID, CSeq (and
 * Timestamp for 100, §8.2.6.1). A To tag is added for anything but 100 when absent.
 */
export function buildResponse(req: SipRequest, status: number, reason?: string, toTag?: string): SipResponse {
  const out: Header[] = [];
  for (const h of req.headers) {
    if (h.name === "via" || h.name === "from" || h.name === "call-id" || h.name === "cseq" || (status === 100 && h.name === "timestamp")) out.push({ name: h.name, value: h.value });
    else if (h.name === "to") {
      const add = status > 100 && tagOf(h.value) === "";
      out.push({ name: "to", value: add ? `${h.value};tag=${toTag ?? newTag()}` : h.value });
    }
  }
  out.push({ name: "content-length", value: "0" });
  return { kind: "response", version: "SIP/2.0", status, reason: reason ?? REASONS[status] ?? "Unknown", headers: out, body: Buffer.alloc(0) };
}

/**
 * A request derived from an INVITE for ACK (§17.1.1.3) and CANCEL (§9.1): same
 * Request-URI, the INVITE's top Via only, its Route set, From, Call-ID and CSeq number.
 */
export function deriveRequest(invite: SipRequest, method: "ACK" | "CANCEL", toValue: string, extra: Header[] = []): SipRequest {
  const via = topViaValue(invite)!;
  const seq = cseqOf(invite)!.seq;
  const hs: Header[] = [{ name: "via", value: via }, { name: "max-forwards", value: "70" }];
  for (const h of invite.headers) if (h.name === "route") hs.push({ name: "route", value: h.value });
  hs.push(
    { name: "from", value: header(invite, "from") ?? "" },
    { name: "to", value: toValue },
    { name: "call-id", value: header(invite, "call-id") ?? "" },
    { name: "cseq", value: `${seq} ${method}` },
    ...extra,
    { name: "content-length", value: "0" },
  );
  return { kind: "request", version: "SIP/2.0", method, uri: invite.uri, headers: hs, body: Buffer.alloc(0) };
}

/** Headers a transaction still matches and answers by once it only lingers (§17.1.3, §17.2.3). */
const SKELETON_HEADERS = new Set(["via", "from", "to", "call-id", "cseq", "route"]);

/**
 * What a transaction keeps of a message while it lingers in Accepted (RFC 6026: 64·T1, only
 * to absorb retransmissions and pass 2xx): its matching headers as fresh strings, no body.
 * The parsed original (its SDP, every other header, and through sliced strings the whole
 * datagram) becomes garbage.
 */
export function skeleton<T extends SipMessage>(msg: T): T {
  const headers = msg.headers.filter((h) => SKELETON_HEADERS.has(h.name)).map((h) => ({ name: h.name, value: flatString(h.value) }));
  const body = Buffer.alloc(0);
  if (msg.kind === "request") return { kind: "request", method: flatString(msg.method), uri: parseUri(flatString(formatUri(msg.uri))), version: "SIP/2.0", headers, body } as T;
  return { kind: "response", status: msg.status, reason: flatString(msg.reason), version: "SIP/2.0", headers, body } as T;
}
