/**
 * The trunk lab with MQTT: the gateway pointed at a mosquitto on its own host, a subscriber on
 * `<base>/#`, and the line registered as MQTT reports it. The gateway starts before the broker,
 * so this also shows it connecting on a later retry (capped backoff).
 */
import type { Lab } from "../netns.js";
import { startTrunkLab, stopTrunkLab, type TrunkLab } from "../trunk/trunk-lab.js";
import { startMosquitto, subscribe, type Broker, type Subscriber } from "./mosquitto.js";

export const BASE = "hikari-gw";

export interface MqttTrunkLab extends TrunkLab {
  broker: Broker;
  sub: Subscriber;
}

/** startTrunkLab's options; `mqtt.server` is added to the gateway's extra YAML here. */
export async function startMqttTrunkLab(lab: Lab, o: Parameters<typeof startTrunkLab>[1]): Promise<MqttTrunkLab> {
  const extraYaml = `mqtt: { server: "mqtt://127.0.0.1:1883" }\n${o.gateway?.extraYaml ?? ""}`;
  const t = await startTrunkLab(lab, { ...o, gateway: { ...o.gateway, extraYaml } });
  let broker: Broker | undefined;
  let sub: Subscriber | undefined;
  try {
    broker = await startMosquitto(lab, t.net.gatewayHost, t.dir);
    sub = await subscribe(lab, t.net.gatewayHost, [`${BASE}/#`]);
    const registered = (m: { topic: string; json?: unknown }) => m.topic === `${BASE}/trunk` && (m.json as { state?: unknown } | undefined)?.state === "registered";
    await sub.waitFor(registered, 45_000, 0, "trunk registered on MQTT");
    return { ...t, broker, sub };
  } catch (err) {
    await stopMqttTrunkLab(lab, { ...t, broker, sub });
    throw err;
  }
}

/** The subscriber, the broker, then the trunk lab (stopTrunkLab): safe on parts never started. */
export async function stopMqttTrunkLab(lab: Lab | undefined, t: Partial<Pick<MqttTrunkLab, "broker" | "sub" | "gw" | "ngn" | "dir">> | undefined): Promise<void> {
  t?.sub?.stop();
  await t?.broker?.stop();
  await stopTrunkLab(lab, t);
}
