/**
 * A stand-in for MQTT.js's client at the module edge (zigbee2mqtt's test/mocks/mqtt.ts
 * habit): records every publish and subscription, and lets a test connect, drop and
 * deliver messages. Installed with `vi.mock("mqtt", () => fakeMqttModule())`.
 */
import { EventEmitter } from "node:events";

export interface Published {
  topic: string;
  payload: string;
  retain: boolean;
}

export class FakeMqttClient extends EventEmitter {
  connected = false;
  published: Published[] = [];
  subscriptions = new Set<string>();
  ended = false;

  constructor(
    readonly url: string,
    readonly options: Record<string, unknown> & { reconnectPeriod?: number },
  ) {
    super();
  }

  publish(topic: string, payload: string | Buffer, opts: { retain?: boolean }, cb?: (err?: Error) => void): void {
    if (!this.connected) throw new Error("fake: publish while disconnected (the bridge must queue instead)");
    this.published.push({ topic, payload: payload.toString(), retain: !!opts.retain });
    cb?.();
  }

  subscribe(topics: string | string[], _opts: unknown, cb?: (err: Error | null) => void): void {
    for (const t of Array.isArray(topics) ? topics : [topics]) this.subscriptions.add(t);
    cb?.(null);
  }

  unsubscribe(topic: string): void {
    this.subscriptions.delete(topic);
  }

  async endAsync(): Promise<void> {
    this.ended = true;
    this.connected = false;
  }

  // ---- test controls
  up(): void {
    this.connected = true;
    this.emit("connect");
  }

  down(): void {
    this.connected = false;
    this.emit("close");
  }

  deliver(topic: string, payload: string, retain = false): void {
    this.emit("message", topic, Buffer.from(payload), { retain });
  }

  /** Published since the last take(). */
  take(): Published[] {
    const out = this.published;
    this.published = [];
    return out;
  }
}

export const fakeClients: FakeMqttClient[] = [];

export function fakeMqttModule() {
  const connect = (url: string, options: Record<string, unknown>) => {
    const c = new FakeMqttClient(url, options);
    fakeClients.push(c);
    return c;
  };
  return { default: { connect }, connect };
}
