/**
 * The answering machine in Home Assistant: a "new messages" count (the newest message's
 * caller, length and URL as attributes, so a notification can link the audio), a device
 * trigger for a new message, and a button that marks every message heard.
 */
import type { DiscoveryConfig, DiscoveryContext } from "./device.js";
import { device, entity } from "./device.js";

export function voicemail(ctx: DiscoveryContext): DiscoveryConfig[] {
  const t = ctx.topics;
  return [
    {
      component: "sensor",
      object: "voicemail_new",
      config: {
        ...entity(ctx, "voicemail_new", "New voicemail messages"),
        state_topic: t.retained("voicemail"),
        value_template: "{{ value_json.new }}",
        json_attributes_topic: t.retained("voicemail"),
        state_class: "measurement",
        icon: "mdi:voicemail",
      },
    },
    {
      component: "device_automation",
      object: "voicemail_new_message",
      config: {
        automation_type: "trigger",
        topic: t.event,
        value_template: "{{ value_json.type }}",
        payload: "voicemail",
        type: "voicemail",
        subtype: "new_message",
        device: device(ctx),
        origin: { name: "hikari-gw", sw_version: ctx.version },
      },
    },
    {
      component: "button",
      object: "voicemail_heard",
      config: {
        ...entity(ctx, "voicemail_heard", "Mark voicemail heard"),
        command_topic: t.request("voicemail_heard"),
        payload_press: "{}",
        icon: "mdi:email-open",
      },
    },
  ];
}
