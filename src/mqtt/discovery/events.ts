/**
 * Calls as Home Assistant events: an `event` entity over `<base>/event` (its payload carries
 * `event_type`), and device triggers for an incoming and a missed call, so an automation
 * can start from the device page without templates.
 */
import type { DiscoveryConfig, DiscoveryContext } from "./device.js";
import { device, entity } from "./device.js";

export const EVENT_TYPES = ["incoming", "answered", "missed", "ended", "outgoing", "rejected", "quality", "voicemail"];

/** The trigger's value: the event's type, prefixed `outbound_` for calls the home made. */
export const TRIGGER_TEMPLATE = "{{ value_json.type if value_json.direction != 'outbound' else 'outbound_' ~ value_json.type }}";

export function callEvents(ctx: DiscoveryContext): DiscoveryConfig[] {
  const t = ctx.topics;
  const trigger = (type: "incoming" | "missed"): DiscoveryConfig => ({
    component: "device_automation",
    object: `call_${type}`,
    config: {
      automation_type: "trigger",
      topic: t.event,
      // Calls the home made (outbound) never fire these: an unanswered outgoing call is
      // published as `missed` on the event topic, but it is not a call the home missed.
      value_template: TRIGGER_TEMPLATE,
      payload: type,
      type,
      subtype: "call",
      device: device(ctx),
      origin: { name: "hikari-gw", sw_version: ctx.version },
    },
  });
  return [
    {
      component: "event",
      object: "call",
      config: {
        ...entity(ctx, "call", "Call"),
        state_topic: t.event,
        event_types: EVENT_TYPES,
        icon: "mdi:phone-ring",
      },
    },
    trigger("incoming"),
    trigger("missed"),
  ];
}
