/** What Home Assistant can do: the DND switch and the hang-up and missed-reset buttons, all through bridge/request. */
import type { DiscoveryConfig, DiscoveryContext } from "./device.js";
import { entity } from "./device.js";

export function controls(ctx: DiscoveryContext): DiscoveryConfig[] {
  const t = ctx.topics;
  return [
    {
      component: "switch",
      object: "dnd",
      config: {
        ...entity(ctx, "dnd", "Do not disturb"),
        command_topic: t.request("dnd"),
        payload_on: '{"value":true}',
        payload_off: '{"value":false}',
        state_topic: t.retained("dnd"),
        value_template: "{{ 'ON' if value_json.dnd else 'OFF' }}",
        state_on: "ON",
        state_off: "OFF",
        icon: "mdi:phone-cancel",
      },
    },
    {
      component: "button",
      object: "hangup",
      config: {
        ...entity(ctx, "hangup", "Hang up all calls"),
        command_topic: t.request("hangup"),
        payload_press: '{"call_id":"all"}',
        icon: "mdi:phone-hangup",
      },
    },
    {
      component: "button",
      object: "missed_reset",
      config: {
        ...entity(ctx, "missed_reset", "Reset missed calls"),
        command_topic: t.request("missed_reset"),
        payload_press: "{}",
        icon: "mdi:phone-check",
      },
    },
  ];
}
