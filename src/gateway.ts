/**
 * The composition root: the one file that knows every layer. It builds them from the config
 * in order — LAN SIP transport and transaction layer, registrar and PBX, media relay, then
 * (when enabled) DHCP on the WAN port and the trunk — wires their events, and stops them in
 * reverse. Each part's start and stop is guarded so one failure is logged, not fatal to the rest.
 * The WAN side (gateway-wan.ts), the VPN start (gateway-vpn.ts) and the control requests
 * (gateway-control.ts) live in their own files; this one only puts the parts together.
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:net";
import type { Config } from "./config/schema.js";
import type { Logger } from "./log.js";
import { systemClock, type Clock } from "./clock.js";
import { GatewayEvents, gatewayEventNames, type CallEvent } from "./events.js";
import { startControlServer, type ControlHandler, type FollowEvents } from "./control.js";
import { UdpTransport } from "./sip/transport-udp.js";
import { DigestServer } from "./sip/digest.js";
import { BindingsStore } from "./pbx/bindings-store.js";
import { Registrar } from "./pbx/registrar.js";
import { Lockout } from "./pbx/lockout.js";
import { ExtensionAuth } from "./pbx/auth.js";
import { Dialplan } from "./pbx/dialplan.js";
import { Pbx } from "./pbx/pbx.js";
import { passThroughMedia, type CallMediaFactory } from "./pbx/call-media.js";
import { relayMediaFactory } from "./pbx/relay-media.js";
import { MediaRelay } from "./media/relay.js";
import { DRAIN_MS } from "./trunk/trunk.js";
import { DrainingLayer } from "./sip/transaction/draining-layer.js";
import type { TrunkState } from "./events.js";
import { lanAllowList, logConfigWarnings, pbxPolicy } from "./gateway-policy.js";
import { CommandError, type GatewayCommands, type GatewayStatus } from "./gateway-api.js";
import { CallMonitor } from "./call-monitor.js";
import { Phonebook } from "./phonebook.js";
import { Blocklist } from "./blocklist.js";
import { GatewayStateStore } from "./gateway-state-store.js";
import type { MqttService } from "./mqtt/service.js";
import { ProvisioningListener } from "./provision/listener.js";
import { PhoneManager, type Vpn } from "./provision/phones.js";
import type { MergedExtension } from "./provision/merge.js";
import type { WireguardInterface, PeerHandshake } from "./vpn/wireguard.js";
import { WanSide } from "./gateway-wan.js";
import { controlHandler } from "./gateway-control.js";
import { processStats } from "./process-stats.js";
import type { GatewayVoicemail } from "./gateway-voicemail.js";

export interface GatewayInfo {
  version: string;
}

export class Gateway {
  readonly events: GatewayEvents;
  private readonly clock: Clock;
  private transport?: UdpTransport;
  private tx?: DrainingLayer;
  private store?: BindingsStore;
  private registrar?: Registrar;
  private pbx?: Pbx;
  private relay?: MediaRelay;
  private control?: Server;
  /** Authentication locks, for `hikari-gw unblock`. */
  private lockout?: Lockout;
  private wan?: WanSide;
  private trunkState: TrunkState = { state: "disabled" };
  private readonly startedAt: number;
  private readonly monitor: CallMonitor;
  private mqtt?: MqttService;
  /** What MQTT and the control socket may do (GatewayCommands): each checks its arguments before acting. */
  readonly commands: GatewayCommands = {
    setDnd: (on) => this.monitor.setDnd(on),
    hangup: (callId) => {
      if (callId !== "all" && !this.pbx?.hasCall(callId)) throw new CommandError(`no call with call_id "${callId}"`);
      return this.pbx?.hangup(callId, "hung up by command") ?? 0;
    },
    resetMissed: () => this.monitor.resetMissed(),
    dial: ({ extension, number }) => {
      if (!this.pbx) throw new CommandError("the PBX is not running");
      const ext = extension ?? this.dialExtension();
      const r = this.pbx.originate(ext, number);
      if ("error" in r) throw new CommandError(r.error);
      this.log.info({ call_id: r.callId, extension: ext, number }, "click-to-dial requested");
      return { call_id: r.callId, extension: ext, number };
    },
    voicemailHeard: () => {
      if (!this.voicemail) throw new CommandError("the answering machine is off (voicemail.enabled)");
      return this.voicemail.markAllHeard();
    },
  };
  /** The answering machine (`voicemail.enabled`). */
  private voicemail?: GatewayVoicemail;

  /** Who a `dial` without an extension rings: mqtt.dial_extension, else the only extension. */
  private dialExtension(): string {
    const configured = this.config.mqtt.dial_extension;
    if (configured !== undefined) return configured;
    if (this.extensions.length === 1) return this.extensions[0]!.number;
    throw new CommandError(`"extension" is required: there are ${this.extensions.length} extensions and no mqtt.dial_extension`);
  }

  /** Configured and `phone add`ed extensions, merged; replaced whole when phones change. */
  private extensions: MergedExtension[] = [];
  private phones?: PhoneManager;
  private wireguard?: WireguardInterface;
  private vpn?: Vpn;
  private provisioning?: ProvisioningListener;
  private handshakes: PeerHandshake[] = [];

  constructor(
    readonly config: Config,
    private readonly log: Logger,
    private readonly info: GatewayInfo,
    opts: { clock?: Clock } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.events = new GatewayEvents(log.child({ name: "events" }));
    this.monitor = this.createMonitor();
  }

  /** The host written into Contact/SDP toward phones. */
  private advertisedHost(): string {
    const { listen, advertise } = this.config.lan;
    if (advertise) return advertise;
    if (listen !== "0.0.0.0" && /^[0-9.]+$/.test(listen)) return listen;
    return "127.0.0.1";
  }

  async start(): Promise<void> {
    const cfg = this.config;
    const log = this.log;
    log.info({ version: this.info.version, lan: `${cfg.lan.listen}:${cfg.lan.port}`, extensions: cfg.extensions.length, trunk: cfg.trunk.enabled }, "hikari-gw starting");

    // First: the SIP listener and the relay may be bound to the tunnel address. Loaded only when
    // on, like the answering machine below: what idle does not need stays out of the heap.
    const started = cfg.vpn.wireguard.enabled ? await (await import("./gateway-vpn.js")).startWireguard(cfg, log.child({ name: "vpn" })) : undefined;
    this.wireguard = started?.wireguard;
    this.vpn = started?.vpn;
    const [portMin, portMax] = cfg.media.rtp_ports.split("-").map(Number);
    let media: CallMediaFactory = passThroughMedia;
    try {
      this.relay = await MediaRelay.create({
        // Trunk calls relay between the LAN and the WAN address: bind to every address then.
        bindAddress: cfg.trunk.enabled ? "0.0.0.0" : cfg.lan.listen,
        portMin,
        portMax,
        log: log.child({ name: "media.relay" }),
        clock: this.clock,
        mediaTimeoutMs: cfg.media.timeout_s * 1000,
        offload: cfg.media.offload,
      });
      media = relayMediaFactory(this.relay);
    } catch (err) {
      log.error({ err }, "media relay unavailable: SDP passes through unchanged (phones must reach each other directly)");
    }

    if (cfg.voicemail.enabled) await this.startVoicemail();
    logConfigWarnings(cfg, log);
    const allow = lanAllowList(cfg, log);
    this.transport = await UdpTransport.bind({
      address: cfg.lan.listen,
      port: cfg.lan.port,
      log: log.child({ name: "sip.transport" }),
      logMessages: cfg.log.sip_messages,
      accept: (from) => allow.allows(from.address),
      // The trunk binds the lease address on the same port (5060 both): Linux lets a socket
      // on a specific address share a wildcard one's port only when both set SO_REUSEADDR,
      // and then delivers datagrams for that address to the specific one.
      reuseAddr: cfg.trunk.enabled,
    });
    // Draining: at shutdown the phones' BYEs get their answers (bounded) before the socket closes.
    this.tx = new DrainingLayer({
      transport: this.transport,
      log: log.child({ name: "sip.transaction" }),
      clock: this.clock,
      via: { host: this.advertisedHost() },
      maxServerTransactions: cfg.limits.server_transactions,
      retryAfterS: cfg.limits.retry_after_s,
    });

    const realm = cfg.pbx.realm ?? "hikari-gw";
    const digest = new DigestServer({ realm, secret: randomBytes(32), nonceTtlMs: cfg.pbx.nonce_ttl_s * 1000, maxTrackedNonces: cfg.limits.tracked_nonces, clock: this.clock });
    const lockout = (this.lockout = new Lockout({ maxFailures: cfg.pbx.lockout_failures, lockMs: cfg.pbx.lockout_s * 1000, maxEntries: cfg.limits.lockout_entries, clock: this.clock, log: log.child({ name: "pbx.auth" }) }));
    this.store = new BindingsStore({ stateDir: cfg.state_dir, clock: this.clock, log: log.child({ name: "pbx.bindings" }) });
    // Phones and the answering machine are served over HTTP on the LAN/tunnel addresses, by a
    // listener open only while one of them needs it (provision/listener.ts).
    const provisioning = (this.provisioning = new ProvisioningListener({
      addresses: [...new Set([this.vpn?.gatewayAddress, this.advertisedHost()].filter((a): a is string => a !== undefined))],
      port: cfg.vpn.provision_port,
      routes: this.voicemail ? [this.voicemail.route()] : [],
      log: log.child({ name: "provision.http" }),
      clock: this.clock,
    }));
    try {
      this.phones = new PhoneManager({
        stateDir: cfg.state_dir,
        configured: cfg.extensions,
        offers: provisioning,
        lanHost: this.advertisedHost(),
        sipPort: cfg.lan.port,
        provisionPort: cfg.vpn.provision_port,
        realm,
        vpn: this.vpn,
        log: log.child({ name: "provision" }),
        onExtensionsChanged: (exts) => this.extensionsChanged(exts),
      });
      for (const p of this.phones.peers()) await this.vpn?.peers.addPeer(p.public_key, p.address);
    } catch (err) {
      log.error({ err }, "phones added with `phone add` unavailable: only the config's extensions work");
    }
    this.extensions = this.phones?.extensions() ?? cfg.extensions.map((e) => ({ ...e, source: "config" as const }));
    const extensions = this.extensions.map((e) => ({ number: e.number, password: e.password, name: e.name }));
    const auth = new ExtensionAuth({ extensions, digest, lockout, log: log.child({ name: "pbx.auth" }), clock: this.clock });
    this.registrar = new Registrar({
      auth,
      extensions,
      realm,
      store: this.store,
      clock: this.clock,
      log: log.child({ name: "pbx.registrar" }),
      minExpires: cfg.pbx.min_expires,
      maxExpires: cfg.pbx.max_expires,
      maxContacts: cfg.limits.contacts_per_aor,
      digest,
      lockout,
    });
    this.registrar.on("binding-added", (b) => this.events.emit("extension", this.extensionState(b.aor)));
    this.registrar.on("binding-removed", (b) => this.events.emit("extension", this.extensionState(b.aor)));

    this.pbx = new Pbx({
      tx: this.tx,
      registrar: this.registrar,
      auth,
      dialplan: new Dialplan(cfg.dialplan),
      media,
      extensions,
      clock: this.clock,
      log: log.child({ name: "pbx.call" }),
      localHost: this.advertisedHost(),
      localPort: this.transport.local.port,
      ringTimeoutMs: cfg.pbx.ring_timeout_s * 1000,
      onCallEvent: (ev) => this.onCallEvent(ev),
      ...pbxPolicy(cfg),
      maxDialogs: cfg.limits.dialogs,
      retryAfterS: cfg.limits.retry_after_s,
    });
    this.voicemail?.machine.attach(this.pbx);
    this.events.on("trunk", (s) => (this.trunkState = s));
    if (cfg.trunk.enabled) {
      // A trunk that cannot start (no such WAN interface, no permission for raw sockets) must
      // not take the extensions down with it: log why, show it in status, keep the PBX running.
      await this.startWan().catch((err: unknown) => {
        const msg = (err as Error)?.message ?? String(err);
        log.error({ err, interface: cfg.wan.interface }, "trunk could not start; extensions keep working");
        this.events.emit("trunk", { state: "failed", last_error: msg });
      });
    }

    // Open at start only for the answering machine; `phone add` opens it on demand.
    await provisioning.sync();
    if (cfg.mqtt.server !== "none") await this.startMqtt();
    try {
      this.control = await startControlServer(cfg.state_dir, this.controlHandler(), log.child({ name: "control" }), { follow: this.followEvents });
    } catch (err) {
      log.warn({ err, state_dir: cfg.state_dir }, "control socket unavailable: `hikari-gw status` will not reach this gateway");
    }
    log.info({ sip: `${this.transport.local.address}:${this.transport.local.port}` }, "hikari-gw ready");
  }

  /** DHCP, guard and trunk; the trunk is kept even when DHCP cannot start, so stop() and status still see it. */
  private async startWan(): Promise<void> {
    this.wan = new WanSide({
      config: this.config,
      pbx: this.pbx!,
      clock: this.clock,
      log: this.log,
      dnd: () => this.monitor.dnd,
      // With the answering machine taking the call, DND answers it instead of refusing it.
      screen: (caller, called, callId) => this.monitor.screen(caller, callId, this.voicemail?.answers(called) ?? false),
      answering: this.voicemail?.machine,
      onTrunkState: (s) => this.events.emit("trunk", s),
    });
    await this.wan.start();
  }

  /** The answering machine: its sockets come from the relay's port range, so no relay, no machine. */
  private async startVoicemail(): Promise<void> {
    const cfg = this.config;
    const log = this.log.child({ name: "voicemail" });
    if (!this.relay) return log.error({ key: "voicemail.enabled" }, "answering machine off: it needs the media relay (media.rtp_ports)");
    try {
      const { GatewayVoicemail } = await import("./gateway-voicemail.js");
      this.voicemail = await GatewayVoicemail.create({
        config: cfg,
        relay: this.relay,
        clock: this.clock,
        log,
        events: this.events,
        nameOf: (n) => this.monitor.nameOf(n),
        httpBase: `http://${this.advertisedHost()}:${cfg.vpn.provision_port}`,
      });
    } catch (err) {
      log.error({ err }, "answering machine could not start; calls ring as without it");
    }
  }

  private controlHandler(): ControlHandler {
    return controlHandler({
      log: this.log,
      clock: this.clock,
      monitor: this.monitor,
      commands: this.commands,
      phones: () => this.phones,
      lockout: () => this.lockout,
      refresh: async () => {
        if (this.wireguard) this.handshakes = await this.wireguard.handshakes().catch(() => this.handshakes);
      },
      status: (opts) => this.status(opts),
    });
  }

  /** Phones added or removed while running: the narrow path into auth, registrar and PBX. */
  private extensionsChanged(exts: MergedExtension[]): void {
    this.extensions = exts;
    const list = exts.map((e) => ({ number: e.number, password: e.password, name: e.name }));
    this.registrar?.extensionsChanged(list);
    this.pbx?.extensionsChanged(list);
  }

  /** Do-not-disturb: inbound calls from the line get 486 (MQTT `dnd` toggles it; persisted). */
  get dnd(): boolean {
    return this.monitor.dnd;
  }

  private onCallEvent(ev: CallEvent): void {
    this.monitor.onCallEvent(ev);
  }

  private createMonitor(): CallMonitor {
    const cfg = this.config;
    let phonebook = new Phonebook(cfg.phonebook.numbers);
    try {
      const loaded = Phonebook.load(cfg.phonebook.numbers, cfg.phonebook.file);
      phonebook = loaded.book;
      for (const e of loaded.errors) this.log.warn({ key: "phonebook.file", file: cfg.phonebook.file }, `phonebook.file: ${e}`);
    } catch (err) {
      this.log.error({ err, key: "phonebook.file" }, "phonebook.file unreadable: only phonebook.numbers apply");
    }
    return new CallMonitor({
      events: this.events,
      clock: this.clock,
      log: this.log.child({ name: "calls" }),
      phonebook,
      blocklist: new Blocklist(cfg.blocklist),
      store: new GatewayStateStore(cfg.state_dir, this.log.child({ name: "state" })),
      extensionNames: new Map(cfg.extensions.map((e) => [e.number, e.name])),
      channels: cfg.trunk.channels,
      callsKept: cfg.mqtt.calls_kept,
      dndDefault: cfg.pbx.dnd,
    });
  }

  /** MQTT never holds up the phones: a broker that cannot start or be reached is logged and retried. */
  private async startMqtt(): Promise<void> {
    try {
      const { MqttService } = await import("./mqtt/service.js");
      this.mqtt = new MqttService({
        config: this.config.mqtt,
        trunk: { enabled: this.config.trunk.enabled, channels: this.config.trunk.channels },
        events: this.events,
        status: () => this.status(),
        commands: this.commands,
        version: this.info.version,
        log: this.log.child({ name: "mqtt" }),
      });
      await this.mqtt.start();
    } catch (err) {
      this.log.error({ err, server: this.config.mqtt.server }, "mqtt could not start; calls carry on without it");
    }
  }

  private extensionState(number: string) {
    const bindings = this.registrar?.lookup(number) ?? [];
    const b = bindings[0];
    return {
      number,
      registered: bindings.length > 0,
      contact: b?.contact,
      user_agent: b?.userAgent,
      expires_at: b ? new Date(b.expiresAt).toISOString() : undefined,
    };
  }

  /** `hikari-gw events`: every GatewayEvents event, by name, to one control-socket client. */
  private readonly followEvents: FollowEvents = (push) => {
    const offs = gatewayEventNames.map((name) => this.events.on(name, (data: unknown) => push(name, data)));
    return () => offs.forEach((off) => off());
  };

  /** Each phone's tunnel address and last WireGuard handshake (null: never). */
  private vpnStatus() {
    if (!this.vpn) return undefined;
    const seen = new Map(this.handshakes.map((h) => [h.public_key, h.last_handshake]));
    return {
      address: this.vpn.gatewayAddress,
      peers: (this.phones?.list() ?? []).filter((p) => p.public_key).map((p) => ({ name: p.name, extension: p.extension, address: p.address, last_handshake: seen.get(p.public_key!) ?? null })),
    };
  }

  /** `collect`: a full GC before the process figures (`hikari-gw status --gc`). */
  status(opts: { collect?: boolean } = {}): GatewayStatus {
    return {
      version: this.info.version,
      started_at: new Date(this.startedAt).toISOString(),
      uptime_s: Math.round((this.clock.now() - this.startedAt) / 1000),
      trunk: this.trunkState,
      line: this.monitor.lines(),
      extensions: this.extensions.map((e) => ({ ...this.extensionState(e.number), name: e.name })),
      vpn: this.vpnStatus(),
      calls: this.pbx?.summaries() ?? [],
      recent_calls: this.monitor.calls(),
      missed: this.monitor.missed,
      dnd: this.monitor.dnd,
      voicemail: this.voicemail?.status,
      media: this.relay ? { sessions: this.relay.sessions } : undefined,
      // Datagrams dropped (lan.allow, malformed, bad Via) or failed, per listener.
      sip: { lan: this.transport ? { ...this.transport.stats() } : undefined, trunk: this.wan?.trunk.transportStats() },
      process: processStats(opts),
      limits: this.limitsStatus(),
    };
  }

  /** What the bounds on traffic-grown state hold now, and how much they refused (limits:). */
  private limitsStatus(): Record<string, number | undefined> {
    const tx = this.tx?.stats();
    return {
      server_transactions: tx?.servers,
      server_transactions_refused: tx?.refusedOverload ?? 0,
      dialogs: this.pbx?.dialogCount,
      dialogs_refused: this.pbx?.refusedOverload ?? 0,
      lockout_entries: this.lockout?.size(),
    };
  }

  /**
   * Stop in reverse. Calls end first (BYE on both legs) while every socket still works;
   * then the trunk waits (bounded) for the NGN to answer its BYEs, unregisters and closes,
   * while the LAN side waits the same way for the phones' answers. Only then do sockets close.
   */
  async stop(): Promise<void> {
    const steps: [string, () => unknown][] = [
      ["calls", () => this.pbx?.close()],
      ["trunk", () => Promise.all([this.wan?.trunk.stop(), this.tx?.drained(this.clock, DRAIN_MS)])],
      // The calls' BYEs reached the machine: its last messages are being saved.
      ["voicemail", () => this.voicemail?.close()],
      ["guard", () => this.wan?.removeGuard()],
      // After the calls ended, so their last events still go out; then bridge/state offline.
      ["mqtt", () => this.mqtt?.stop()],
      ["dhcp", () => this.wan?.stopDhcp()],
      ["control", () => new Promise<void>((r) => (this.control ? this.control.close(() => r()) : r()))],
      ["provisioning", () => this.provisioning?.stop()],
      ["transactions", () => this.tx?.close()],
      // Node drops a datagram whose send() is still pending when its socket closes.
      ["transport", () => new Promise((r) => setImmediate(r)).then(() => this.transport?.close())],
      ["registrar", () => this.registrar?.close()],
      ["relay", () => this.relay?.close()],
      ["vpn", () => this.wireguard?.down()],
    ];
    for (const [name, fn] of steps) {
      try {
        await fn();
      } catch (err) {
        this.log.error({ err, part: name }, "error while stopping");
      }
    }
    this.log.info("hikari-gw stopped");
  }
}
