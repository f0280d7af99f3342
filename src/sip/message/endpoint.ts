/**
 * Where a datagram came from or goes to, compared the one way the stack compares it:
 * address and port, as the transport reports them (a NAT'ed phone's flow, RFC 5626 §3.2).
 */
import type { Endpoint } from "./types.js";

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.address === b.address && a.port === b.port;
}
