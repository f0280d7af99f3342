/** Sensors and binary sensors: line state per channel, callers, missed calls, registrations, call quality. */
import type { DiscoveryConfig, DiscoveryContext } from "./device.js";
import { entity } from "./device.js";

const LINE_STATES = ["idle", "ringing", "dialing", "talking"];

export function sensors(ctx: DiscoveryContext): DiscoveryConfig[] {
  const t = ctx.topics;
  const out: DiscoveryConfig[] = [];
  for (let c = 1; c <= ctx.channels; c++) {
    const object = `line_${c}_state`;
    out.push({
      component: "sensor",
      object,
      config: {
        ...entity(ctx, object, ctx.channels === 1 ? "Line" : `Line ${c}`),
        state_topic: t.retained("line"),
        value_template: `{{ value_json.channels[${c - 1}].state }}`,
        json_attributes_topic: t.retained("line"),
        json_attributes_template: `{{ value_json.channels[${c - 1}] | tojson }}`,
        device_class: "enum",
        options: LINE_STATES,
        icon: "mdi:phone-classic",
      },
    });
  }
  out.push(
    {
      component: "sensor",
      object: "last_caller",
      config: {
        ...entity(ctx, "last_caller", "Last caller"),
        state_topic: t.retained("last_caller"),
        value_template: "{{ value_json.name or value_json.number }}",
        json_attributes_topic: t.retained("last_caller"),
        icon: "mdi:phone-incoming",
      },
    },
    {
      component: "sensor",
      object: "missed_calls",
      config: {
        ...entity(ctx, "missed_calls", "Missed calls"),
        state_topic: t.retained("missed"),
        value_template: "{{ value_json.count }}",
        json_attributes_topic: t.retained("missed"),
        icon: "mdi:phone-missed",
      },
    },
    {
      component: "sensor",
      object: "last_missed_caller",
      config: {
        ...entity(ctx, "last_missed_caller", "Last missed caller"),
        state_topic: t.retained("missed"),
        value_template: "{{ value_json.last_from_name or value_json.last_from or 'none' }}",
        icon: "mdi:phone-missed-outline",
      },
    },
    {
      component: "sensor",
      object: "registered_extensions",
      config: {
        ...entity(ctx, "registered_extensions", "Registered extensions"),
        state_topic: t.retained("extensions"),
        value_template: "{{ value_json.registered }}",
        json_attributes_topic: t.retained("extensions"),
        state_class: "measurement",
        icon: "mdi:cellphone-link",
      },
    },
    {
      component: "binary_sensor",
      object: "trunk_registered",
      config: {
        ...entity(ctx, "trunk_registered", "Line registered"),
        state_topic: t.retained("trunk"),
        value_template: "{{ 'ON' if value_json.state == 'registered' else 'OFF' }}",
        json_attributes_topic: t.retained("trunk"),
        device_class: "connectivity",
      },
    },
    {
      component: "sensor",
      object: "last_call_loss",
      config: {
        ...entity(ctx, "last_call_loss", "Last call packet loss"),
        state_topic: t.retained("quality"),
        value_template: "{{ [value_json.caller.loss_pct, value_json.callee.loss_pct] | max }}",
        json_attributes_topic: t.retained("quality"),
        unit_of_measurement: "%",
        state_class: "measurement",
        entity_category: "diagnostic",
        icon: "mdi:chart-line-variant",
      },
    },
    {
      component: "sensor",
      object: "last_call_jitter",
      config: {
        ...entity(ctx, "last_call_jitter", "Last call jitter"),
        state_topic: t.retained("quality"),
        value_template: "{{ [value_json.caller.jitter_ms, value_json.callee.jitter_ms] | max }}",
        unit_of_measurement: "ms",
        device_class: "duration",
        state_class: "measurement",
        entity_category: "diagnostic",
      },
    },
  );
  for (const e of ctx.extensions) {
    const object = `extension_${e.number}_registered`;
    out.push({
      component: "binary_sensor",
      object,
      config: {
        ...entity(ctx, object, `Extension ${e.number}${e.name ? ` (${e.name})` : ""}`),
        state_topic: t.extension(e.number),
        value_template: "{{ 'ON' if value_json.registered else 'OFF' }}",
        json_attributes_topic: t.extension(e.number),
        device_class: "connectivity",
        entity_category: "diagnostic",
      },
    });
  }
  return out;
}
