/**
 * The MQTT bridge: connects to the broker (or starts the embedded one), publishes the
 * gateway's retained state and Home Assistant discovery on every (re)connect, sends call
 * events as they happen (queued, bounded, while the broker is away), and answers requests.
 * Calls never wait on any of this: nothing here is awaited on a call's path.
 */
import { readFileSync } from "node:fs";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Config } from "../config/schema.js";
import type { Logger } from "../log.js";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import type { GatewayEvents } from "../events.js";
import type { GatewayCommands, GatewayStatus } from "../gateway-api.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { EmbeddedBroker } from "./broker.js";
import { runCommand } from "./commands.js";
import { discoveryConfigs, nodeId, type DiscoveryContext } from "./discovery/index.js";
import { Outbox } from "./outbox.js";
import { bridgeInfo, eventPayloads, lastCaller, linePayload, missedPayload, qualityEvent, voicemailPayload } from "./payloads.js";
import { Topics, type RetainedTopics } from "./topics.js";

export interface MqttServiceOptions {
  config: Config["mqtt"];
  /** trunk.enabled and trunk.channels, for bridge/info and the line's discovery. */
  trunk: { enabled: boolean; channels: number };
  events: GatewayEvents;
  status: () => GatewayStatus;
  commands: GatewayCommands;
  version: string;
  log: Logger;
  clock?: Clock;
}

/** Reconnect backoff: 1 s, doubling, at most 30 s; back to 1 s once connected. */
export const RECONNECT_MIN_MS = 1_000;
export const RECONNECT_MAX_MS = 30_000;
/** After connecting, retained discovery configs of this node not among ours are cleared for this long. */
const STALE_SCAN_MS = 5_000;

export class MqttService {
  private readonly topics: Topics;
  private readonly node: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly outbox: Outbox;
  private readonly badRequests: RateLimitedLog;
  private broker?: EmbeddedBroker;
  private client?: MqttClient;
  private off: (() => void)[] = [];
  private staleScan?: TimerHandle;
  private scanning = false;
  private ownDiscovery = new Set<string>();
  private lastCallerPayload?: RetainedTopics["last_caller"];
  private lastQuality?: RetainedTopics["quality"];

  constructor(private readonly opts: MqttServiceOptions) {
    this.topics = new Topics(opts.config.base_topic, opts.config.discovery_prefix);
    this.node = nodeId(opts.config.base_topic);
    this.log = opts.log;
    this.clock = opts.clock ?? systemClock;
    this.outbox = new Outbox(opts.config.queue_max);
    this.badRequests = new RateLimitedLog(opts.log, 5, () => this.clock.now());
  }

  async start(): Promise<void> {
    const c = this.opts.config;
    let url = c.server;
    if (c.server === "embedded") {
      this.broker = await EmbeddedBroker.start({ listen: c.listen, port: c.port, username: c.username, password: c.password, allowAnonymous: c.allow_anonymous, log: this.log.child({ name: "mqtt.broker" }) });
      url = `mqtt://${c.listen === "0.0.0.0" ? "127.0.0.1" : c.listen}:${c.port}`;
    }
    this.listen();
    const options: IClientOptions = {
      clientId: c.client_id ?? `hikari-gw_${this.node}_${Math.random().toString(16).slice(2, 8)}`,
      username: c.username,
      password: c.password,
      clean: true,
      reconnectPeriod: RECONNECT_MIN_MS,
      connectTimeout: 10_000,
      // Our own bounded outbox holds events while away; mqtt.js must not queue without bound.
      queueQoSZero: false,
      will: { topic: this.topics.retained("bridge/state"), payload: Buffer.from("offline"), retain: true, qos: 1 },
      ca: c.ca ? readFileSync(c.ca) : undefined,
      rejectUnauthorized: c.reject_unauthorized,
    };
    const client = mqtt.connect(url, options);
    this.client = client;
    client.on("connect", () => this.onConnect());
    client.on("close", () => {
      // Capped exponential backoff: mqtt.js reads reconnectPeriod each time it schedules a retry.
      const next = Math.min(RECONNECT_MAX_MS, Math.max(RECONNECT_MIN_MS, (client.options.reconnectPeriod ?? RECONNECT_MIN_MS) * 2));
      if (this.wasConnected && !this.stopping) this.log.warn({ server: url, retry_ms: client.options.reconnectPeriod }, "mqtt connection lost; events are queued until it is back");
      this.wasConnected = false;
      client.options.reconnectPeriod = next;
    });
    client.on("error", (err) => this.badRequests.warn({ err: err.message, server: url }, "mqtt error"));
    client.on("message", (topic, payload, packet) => this.onMessage(topic, payload, packet.retain));
    this.log.info({ server: url, base_topic: c.base_topic }, "mqtt starting");
  }

  private wasConnected = false;
  private stopping = false;

  private listen(): void {
    const ev = this.opts.events;
    this.off.push(
      ev.on("call", (e) => {
        for (const p of eventPayloads(e)) this.sendEvent(JSON.stringify(p));
        if (e.type === "incoming") {
          this.lastCallerPayload = lastCaller(e);
          this.publishRetained("last_caller", this.lastCallerPayload);
        }
        const q = qualityEvent(e);
        if (q) {
          this.lastQuality = q;
          this.publishRetained("quality", q);
        }
      }),
      ev.on("line", () => this.publishRetained("line", linePayload(this.opts.status().line))),
      ev.on("trunk", (s) => this.publishRetained("trunk", s)),
      ev.on("extension", (x) => {
        const st = this.opts.status();
        const ext = st.extensions.find((e) => e.number === x.number);
        if (ext) this.publish(this.topics.extension(x.number), JSON.stringify(ext), true);
        this.publishRetained("extensions", this.extensionsSummary(st));
      }),
      ev.on("calls", (calls) => this.publishRetained("calls", { calls })),
      ev.on("missed", (m) => this.publishRetained("missed", missedPayload(m))),
      ev.on("dnd", (on) => this.publishRetained("dnd", { dnd: on })),
      ev.on("voicemail", (v) => this.sendEvent(JSON.stringify({ ...v, event_type: "voicemail" }))),
      ev.on("voicemail_box", (box) => this.publishRetained("voicemail", voicemailPayload(box))),
    );
  }

  private extensionsSummary(st: GatewayStatus): RetainedTopics["extensions"] {
    const reg = st.extensions.filter((e) => e.registered).map((e) => e.number);
    return { registered: reg.length, total: st.extensions.length, numbers: reg };
  }

  private onConnect(): void {
    const client = this.client!;
    client.options.reconnectPeriod = RECONNECT_MIN_MS;
    this.wasConnected = true;
    this.log.info({ server: this.opts.config.server }, "mqtt connected");
    this.publishAllState();
    const subs = [this.topics.requestFilter];
    if (this.opts.config.discovery) {
      subs.push(this.topics.haStatus);
      this.publishDiscovery();
      this.startStaleScan();
    }
    client.subscribe(subs, { qos: 1 }, (err) => {
      if (err) this.log.error({ err }, "mqtt subscribe failed: commands will not be heard");
    });
    const { items, dropped } = this.outbox.take();
    if (dropped > 0) this.log.warn({ dropped }, "events dropped while the broker was away (mqtt.queue_max)");
    for (const it of items) this.publish(it.topic, it.payload, false);
  }

  /** Every retained topic, whole: after a reconnect the broker may have lost them (restarted without persistence). */
  private publishAllState(): void {
    const st = this.opts.status();
    const c = this.opts.config;
    this.publishRetained("bridge/state", "online");
    this.publishRetained("bridge/info", bridgeInfo(st, { trunkEnabled: this.opts.trunk.enabled, channels: this.opts.trunk.channels, baseTopic: c.base_topic, discovery: c.discovery, callsKept: c.calls_kept }));
    this.publishRetained("trunk", st.trunk);
    this.publishRetained("line", linePayload(st.line));
    for (const e of st.extensions) this.publish(this.topics.extension(e.number), JSON.stringify(e), true);
    this.publishRetained("extensions", this.extensionsSummary(st));
    this.publishRetained("calls", { calls: st.recent_calls });
    this.publishRetained("missed", missedPayload(st.missed));
    this.publishRetained("dnd", { dnd: st.dnd });
    if (st.voicemail) this.publishRetained("voicemail", voicemailPayload(st.voicemail));
    if (this.lastCallerPayload) this.publishRetained("last_caller", this.lastCallerPayload);
    if (this.lastQuality) this.publishRetained("quality", this.lastQuality);
  }

  private discoveryContext(): DiscoveryContext {
    const st = this.opts.status();
    return { topics: this.topics, node: this.node, version: this.opts.version, channels: this.opts.trunk.channels, extensions: st.extensions, voicemail: st.voicemail !== undefined };
  }

  private publishDiscovery(): void {
    const own = new Set<string>();
    for (const d of discoveryConfigs(this.discoveryContext())) {
      const topic = this.topics.discovery(d.component, this.node, d.object);
      own.add(topic);
      this.publish(topic, JSON.stringify(d.config), true);
    }
    this.ownDiscovery = own;
  }

  /**
   * An entity that no longer exists (an extension taken out of the config) still has its
   * retained config at the broker: look at this node's retained configs for a few seconds
   * after connecting and clear (empty retained payload) those that are not ours any more.
   */
  private startStaleScan(): void {
    const client = this.client!;
    const filter = this.topics.discoveryFilter(this.node);
    this.scanning = true;
    client.subscribe(filter, { qos: 0 });
    this.clock.clearTimeout(this.staleScan);
    this.staleScan = this.clock.setTimeout(() => {
      this.scanning = false;
      client.unsubscribe(filter);
    }, STALE_SCAN_MS);
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    if (this.scanning && topic.startsWith(`${this.opts.config.discovery_prefix}/`) && topic.endsWith("/config")) {
      if (retained && payload.length > 0 && !this.ownDiscovery.has(topic)) {
        this.log.info({ topic }, "removing a discovery config no longer in use");
        this.publish(topic, "", true);
      }
      return;
    }
    if (topic === this.topics.haStatus) {
      // Home Assistant restarted: it forgot the discovery; give it again, with the state.
      if (payload.toString("utf8").trim() === "online") {
        this.publishDiscovery();
        this.publishAllState();
      }
      return;
    }
    const command = this.topics.commandOf(topic);
    if (command === undefined) return;
    const out = runCommand(command, payload, {
      commands: this.opts.commands,
      dnd: () => this.opts.status().dnd,
      missed: () => this.opts.status().missed,
    });
    if (out.error) this.badRequests.warn({ command, error: out.error, bytes: payload.length }, "mqtt request refused");
    else this.log.info({ command }, "mqtt request done");
    this.publish(this.topics.response(command.slice(0, 64)), JSON.stringify(out.response), false);
  }

  private publishRetained<K extends keyof RetainedTopics>(k: K, payload: RetainedTopics[K]): void {
    this.publish(this.topics.retained(k), typeof payload === "string" ? payload : JSON.stringify(payload), true);
  }

  /** Retained state is simply skipped while away (republished whole on reconnect); events queue. */
  private publish(topic: string, payload: string, retain: boolean): void {
    const client = this.client;
    if (!client?.connected) return;
    client.publish(topic, payload, { qos: 1, retain }, (err) => {
      if (err) this.badRequests.warn({ err: err.message, topic }, "mqtt publish failed");
    });
  }

  private sendEvent(payload: string): void {
    const client = this.client;
    if (client?.connected) this.publish(this.topics.event, payload, false);
    else this.outbox.push({ topic: this.topics.event, payload });
  }

  /** bridge/state offline (the LWT is only for a crash), then disconnect and stop the broker. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const f of this.off) f();
    this.off = [];
    this.clock.clearTimeout(this.staleScan);
    const client = this.client;
    if (client) {
      if (client.connected) {
        // Bounded: a broker that stops answering must not hold up the shutdown.
        await new Promise<void>((r) => {
          const t = this.clock.setTimeout(r, 2_000);
          client.publish(this.topics.retained("bridge/state"), "offline", { qos: 1, retain: true }, () => {
            this.clock.clearTimeout(t);
            r();
          });
        });
      }
      await client.endAsync(!client.connected);
    }
    await this.broker?.close();
  }
}
