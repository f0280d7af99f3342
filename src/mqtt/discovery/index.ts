/** Every discovery config of the gateway's one device. */
import { controls } from "./controls.js";
import type { DiscoveryConfig, DiscoveryContext } from "./device.js";
import { callEvents } from "./events.js";
import { sensors } from "./sensors.js";
import { voicemail } from "./voicemail.js";

export type { DiscoveryConfig, DiscoveryContext } from "./device.js";
export { nodeId } from "./device.js";

export function discoveryConfigs(ctx: DiscoveryContext): DiscoveryConfig[] {
  return [...sensors(ctx), ...controls(ctx), ...callEvents(ctx), ...(ctx.voicemail ? voicemail(ctx) : [])];
}
