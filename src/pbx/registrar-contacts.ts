/**
 * The per-Contact rules of a REGISTER (RFC 3261 §10.3 steps 6 and 7), split from the
 * registrar so it stays one job per file: how long each contact asks for, and whether a
 * request may change a binding given its Call-ID and CSeq, and which stored binding a contact
 * of the request is.
 */
import { formatUri, parseNameAddr, sameEndpoint } from "../sip/message/index.js";
import type { Endpoint } from "../sip/message/types.js";
import type { Binding } from "./bindings-store.js";

/** A REGISTER the registrar refuses with this status (thrown inside the update, caught once). */
export class RegisterError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** A Contact of the request, resolved to what step 7 needs. */
export interface ContactUpdate {
  /** The contact URI as written by the phone (re-formatted from the parse): the binding key. */
  key: string;
  /** Seconds granted; 0 removes. */
  expires: number;
  q?: number;
  instance?: string;
}

export interface ExpiryLimits {
  min: number;
  max: number;
  default: number;
}

const MAX_DELTA_SECONDS = 0xffffffff; // RFC 3261 §25.1 / §20.19: delta-seconds up to 2**32-1

/**
 * Step 6: the contact's own `expires` param, else the Expires header, else the default;
 * non-zero below the minimum → 423 (the caller adds Min-Expires); above the maximum →
 * shortened (the registrar may, §10.3 step 7).
 */
export function contactUpdate(value: string, expiresHeader: number | undefined, limits: ExpiryLimits): ContactUpdate {
  const na = parseNameAddr(value);
  const own = na.params.get("expires");
  let expires = own !== undefined ? parseDelta(own ?? "") : expiresHeader;
  // §20.10: a malformed expires is taken as the default (3600 in the RFC).
  if (expires === undefined) expires = limits.default;
  if (expires > 0 && expires < limits.min) throw new RegisterError(423, "Interval Too Brief");
  if (expires > limits.max) expires = limits.max;
  const qRaw = na.params.get("q");
  const q = qRaw ? Number(qRaw) : undefined;
  const inst = na.params.get("+sip.instance");
  return {
    key: formatUri(na.uri),
    expires,
    q: q !== undefined && q >= 0 && q <= 1 ? q : undefined,
    instance: inst ? inst.replace(/^"|"$/g, "") : undefined,
  };
}

/** Step 7: for the same Call-ID the CSeq must be higher than the stored one, else the request fails. */
export function checkOrder(b: Binding, callId: string, seq: number): void {
  // The RFC names no status; Kamailio answers this case 400 "Invalid CSeq number".
  if (b.callId === callId && seq <= b.cseq) throw new RegisterError(400, "Invalid CSeq number");
}

/** delta-seconds (RFC 3261 §25.1), or undefined when absent or malformed. */
export function parseDelta(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  if (!/^[0-9]{1,12}$/.test(t)) return undefined;
  return Math.min(Number(t), MAX_DELTA_SECONDS);
}

/**
 * What identifies a binding (RFC 5626 §6 and §7 without requiring outbound from the phone):
 * the +sip.instance when the phone gives one, else the contact URI together with the flow
 * the REGISTER came over. Two phones of one extension behind different NATs may well both
 * write `sip:802@192.168.1.10:5060` into Contact; keyed by contact alone, the second would
 * silently take over the first one's binding.
 */
export function bindingKey(b: Pick<Binding, "contact" | "source" | "instance">): string {
  return b.instance !== undefined ? `instance ${b.instance}` : `contact ${b.contact} via ${b.source.address}:${b.source.port}`;
}

/**
 * The stored binding a contact of this REGISTER updates, if any. In order: the same
 * +sip.instance (the same device, whatever its contact and flow now, RFC 5626 §6); the same
 * contact under the same Call-ID (the same registration, RFC 3261 §10.3 step 7, arriving
 * from a new NAT mapping); the same contact over the same flow.
 */
export function findBinding(bindings: Iterable<Binding>, u: ContactUpdate, callId: string, source: Endpoint): Binding | undefined {
  let sameCall: Binding | undefined;
  let sameFlow: Binding | undefined;
  for (const b of bindings) {
    if (u.instance !== undefined && b.instance === u.instance) return b;
    // A device that names its instance is matched by it alone, except against an older
    // binding of the same contact that had none (the phone just turned outbound on).
    if (b.contact !== u.key || (u.instance !== undefined && b.instance !== undefined)) continue;
    if (b.callId === callId) sameCall ??= b;
    else if (sameEndpoint(b.source, source)) sameFlow ??= b;
  }
  return sameCall ?? sameFlow;
}

/**
 * The bindings a REGISTER from a phone that restarted leaves behind on its flow. RFC 3261
 * §10.2 wants one Call-ID per boot cycle of a UA toward a registrar, so a binding held over
 * the same source address:port under another Call-ID is that phone before its restart, even
 * when its Contact changed (a new ;rinstance=, a new local port). Left alone it would ring
 * the phone a second time on every call for up to an hour (Asterisk's remove_existing and
 * Kamailio's per-flow handling end it the same way). Not when the REGISTER came through a
 * proxy (Path, RFC 3327): the source is then the proxy, shared by many phones; not when both
 * name different +sip.instance values (two declared devices); and only when the request adds
 * or refreshes something (a query or an unregister proves nothing about the old contacts).
 */
export function staleOnFlow(
  bindings: Iterable<Binding>,
  request: { callId: string; source: Endpoint; path: readonly string[]; updates: readonly ContactUpdate[]; matches: readonly (Binding | undefined)[] },
): Binding[] {
  const { callId, source, path, updates, matches } = request;
  if (path.length > 0 || !updates.some((u) => u.expires > 0)) return [];
  const instances = new Set<string>();
  for (const u of updates) if (u.instance !== undefined) instances.add(u.instance);
  const out: Binding[] = [];
  for (const b of bindings) {
    if (b.callId === callId || b.path.length > 0 || !sameEndpoint(b.source, source) || matches.includes(b)) continue;
    if (b.instance !== undefined && instances.size > 0 && !instances.has(b.instance)) continue;
    out.push(b);
  }
  return out;
}
