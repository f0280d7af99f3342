/**
 * What Home Assistant can do: the DND switch, the hang-up and missed-reset buttons and the
 * click-to-dial text, all through bridge/request.
 */
import type { DiscoveryConfig, DiscoveryContext } from "./device.js";
import { entity } from "./device.js";

/** What Home Assistant lets through to the dial request (the gateway checks again, commands.ts DIAL_NUMBER). */
export const DIAL_PATTERN = "^[+]?[0-9*#() .-]{1,32}$";

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
    {
      // Click-to-dial: a number entered here rings the default extension (mqtt.dial_extension,
      // else the only one), which then calls it. No state_topic: Home Assistant shows the last
      // number entered (optimistic); the outcome is on bridge/response/dial and the call events.
      component: "text",
      object: "dial",
      config: {
        ...entity(ctx, "dial", "Dial"),
        command_topic: t.request("dial"),
        command_template: '{"number": {{ value | tojson }}, "transaction": "home-assistant"}',
        min: 1,
        max: 32,
        mode: "text",
        pattern: DIAL_PATTERN,
        icon: "mdi:phone-dial",
      },
    },
  ];
}
