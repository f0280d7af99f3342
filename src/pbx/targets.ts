/**
 * Turning a registered device into a place a call can ring. Requests go to the address the
 * REGISTER came from, not the Contact's host: a phone behind NAT (or a VPN that rewrites
 * addresses) is only reachable there (Asterisk's nat=force_rport,comedia; RFC 5626 in spirit).
 */
import { parseUri } from "../sip/message/index.js";
import type { Binding } from "./bindings-store.js";
import type { CallTarget } from "./call.js";

export function bindingTarget(b: Binding, name: string | undefined, localHost: string): CallTarget {
  return {
    uri: parseUri(b.contact),
    destination: b.source,
    to: { displayName: name, uri: { scheme: "sip", user: b.aor, host: localHost, params: new Map(), headers: new Map() }, params: new Map() },
    extension: b.aor,
    label: `${b.aor} ${b.contact}`,
  };
}
