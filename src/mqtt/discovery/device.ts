/**
 * What every discovery config shares: the one device (hikari-gw) the entities belong to,
 * the origin, and availability on `<base>/bridge/state` (online/offline, the LWT).
 */
import { discoveryId, type Topics } from "../topics.js";

export interface DiscoveryContext {
  topics: Topics;
  /** [a-zA-Z0-9_-]: the node id in config topics and the prefix of every unique_id. */
  node: string;
  version: string;
  channels: number;
  extensions: { number: string; name?: string }[];
  /** The answering machine is on: its messages sensor, trigger and button. */
  voicemail?: boolean;
}

/** One config to publish: `<prefix>/<component>/<node>/<object>/config`. */
export interface DiscoveryConfig {
  component: "sensor" | "binary_sensor" | "switch" | "button" | "event" | "text" | "device_automation";
  object: string;
  config: Record<string, unknown>;
}

export function nodeId(baseTopic: string): string {
  return discoveryId(baseTopic);
}

export function device(ctx: DiscoveryContext): Record<string, unknown> {
  return {
    identifiers: [ctx.node],
    name: "Hikari Denwa gateway",
    manufacturer: "hikari-gw",
    model: "hikari-gw",
    sw_version: ctx.version,
  };
}

/** Fields of every entity: unique_id (an API: never renamed), device, origin, availability. */
export function entity(ctx: DiscoveryContext, object: string, name: string | null): Record<string, unknown> {
  return {
    name,
    unique_id: `${ctx.node}_${object}`,
    device: device(ctx),
    origin: { name: "hikari-gw", sw_version: ctx.version },
    availability_topic: ctx.topics.retained("bridge/state"),
    payload_available: "online",
    payload_not_available: "offline",
  };
}
