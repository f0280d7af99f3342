/**
 * Where a number an extension dials goes: the dialplan's rule, then for an extension its
 * registered devices, for the line the toll-fraud rules (toll.ts) and the trunk's state and
 * channels. One answer for a phone's INVITE and for click-to-dial (originate.ts), so both
 * are routed, refused and limited alike.
 */
import type { Endpoint } from "../sip/message/types.js";
import type { Dialplan } from "./dialplan.js";
import type { CallFailure, CallTarget } from "./call-types.js";
import { tollRefusal, type TollPolicy } from "./toll.js";
import { TRUNK_NOT_CONFIGURED } from "./call-refusal.js";

/** The targets to ring, or why the call is refused (the status the phone hears, and for the log why and which rule). */
export type Routed =
  | { called: string; direction: "internal" | "outbound"; targets: CallTarget[]; failure?: CallFailure; rule?: string }
  | { refused: { status: number; reason: string; why: string; rule?: string; toll?: boolean } };

/** What routing reads of the PBX. */
export interface RoutePort {
  readonly dialplan: Dialplan;
  hasExtension(number: string): boolean;
  /** Every registered device of an extension but `except` (the calling phone itself). */
  extensionTargets(number: string, except?: Endpoint): CallTarget[];
  readonly limits: TollPolicy;
  readonly trunk?: { outboundTarget(dialled: string, caller: string): CallTarget | { status: number; reason: string; why?: string } };
}

export function routeDialled(port: RoutePort, dialled: string, caller: string, except?: Endpoint): Routed {
  const route = port.dialplan.route(dialled);
  switch (route.kind) {
    case "none":
      return { refused: { status: 404, reason: "Not Found", why: "no dialplan entry matches", rule: "no match" } };
    case "extension":
    case "user": {
      const called = route.number;
      if (!port.hasExtension(called)) return { refused: { status: 404, reason: "Not Found", why: `no extension ${called}`, rule: route.rule } };
      const targets = port.extensionTargets(called, except);
      const failure = targets.length === 0 ? { status: 480, reason: "Temporarily Unavailable" } : undefined;
      return { called, direction: "internal", targets, failure, rule: route.rule };
    }
    case "trunk": {
      const refused = tollRefusal(route.number, port.limits, route.allow);
      if (refused) return { refused: { status: 403, reason: refused, why: `toll-fraud rule: ${refused}`, rule: route.rule, toll: true } };
      const t = port.trunk?.outboundTarget(route.number, caller);
      if (!t) return { refused: { status: TRUNK_NOT_CONFIGURED.status, reason: TRUNK_NOT_CONFIGURED.reason, why: "no trunk configured", rule: route.rule } };
      if ("status" in t) return { refused: { status: t.status, reason: t.reason, why: t.why ?? `trunk: ${t.reason}`, rule: route.rule } };
      return { called: route.number, direction: "outbound", targets: [t], rule: route.rule };
    }
  }
}
