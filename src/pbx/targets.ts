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

/**
 * Where requests for a binding end up: its flow (source address:port). Bindings reached
 * through a proxy (Path, RFC 3327) share the proxy's address and are told apart by the
 * Request-URI the proxy routes on, so there the contact is part of the destination.
 */
export function destinationKey(b: Binding): string {
  const flow = `${b.source.address}:${b.source.port}`;
  return b.path.length > 0 ? `${flow} ${b.contact}` : flow;
}

/**
 * The first binding of each destination, order kept. Two INVITEs of one call down one flow
 * reach one device twice (several contacts in one REGISTER, or bindings restored from before
 * a restart): it would ring as two calls, and the loser's CANCEL confuses it further.
 */
export function onePerDestination(bindings: readonly Binding[]): Binding[] {
  const seen = new Set<string>();
  const out: Binding[] = [];
  for (const b of bindings) {
    const key = destinationKey(b);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(b);
  }
  return out;
}

/** Every place an extension rings, one per destination, from `Registrar.lookup()`'s order. */
export function bindingTargets(bindings: readonly Binding[], name: string | undefined, localHost: string): CallTarget[] {
  return onePerDestination(bindings).map((b) => bindingTarget(b, name, localHost));
}
