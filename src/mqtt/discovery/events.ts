/**
 * Calls as Home Assistant events: an `event` entity over `<base>/event` (its payload carries
 * `event_type`), and device triggers for an incoming and a missed call, so an automation
 * can start from the device page without templates.
 */
import type { DiscoveryConfig, DiscoveryContext } from "./device.js";
import { device, entity } from "./device.js";

export const EVENT_TYPES = ["incoming", "answered", "missed", "ended", "outgoing", "rejected", "quality", "voicemail"];

export function callEvents(ctx: DiscoveryContext): DiscoveryConfig[] {
  const t = ctx.topics;
  const trigger = (type: "incoming" | "missed"): DiscoveryConfig => ({
    component: "device_automation",
    object: `call_${type}`,
    config: {
      automation_type: "trigger",
      topic: t.event,
      value_template: "{{ value_json.type }}",
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
