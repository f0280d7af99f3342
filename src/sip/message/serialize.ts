/**
 * Writes a message for the wire (RFC 3261 §7): capitalised canonical header names, one
 * line per stored header, and Content-Length always recomputed from the body (§20.14: a
 * stale length would make the peer mis-frame the datagram). The length stays where the
 * message had it, or goes last.
 */
import type { SipMessage } from "./types.js";
import { wireName } from "./header-names.js";
import { formatUri } from "./uri.js";

export function serializeMessage(msg: SipMessage): Buffer {
  let head =
    msg.kind === "request"
      ? `${msg.method} ${formatUri(msg.uri)} SIP/2.0\r\n`
      : `SIP/2.0 ${msg.status} ${msg.reason}\r\n`;
  const cl = `Content-Length: ${msg.body.length}\r\n`;
  let wroteLength = false;
  for (const h of msg.headers) {
    if (h.name === "content-length") {
      if (!wroteLength) head += cl;
      wroteLength = true;
      continue;
    }
    head += wireName(h.name) + ": " + h.value + "\r\n";
  }
  if (!wroteLength) head += cl;
  head += "\r\n";
  const headLen = Buffer.byteLength(head, "utf8");
  // Not from Node's shared 8 KB pool: transactions keep these bytes for up to 64·T1 (to
  // retransmit, or to answer retransmissions), and one kept slice pins its whole pool slab.
  const out = Buffer.allocUnsafeSlow(headLen + msg.body.length);
  out.write(head, 0, "utf8");
  msg.body.copy(out, headLen);
  return out;
}
