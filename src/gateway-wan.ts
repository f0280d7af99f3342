/**
 * The WAN side: the DHCP client on the port to the ONU, the nftables guard on that port, and
 * the trunk the lease configures. Each lease (first, or changed) is applied in order: the guard
 * first, then the trunk; a lost lease takes the trunk down. With `wan.interface: none` the trunk
 * takes everything from `trunk:` and no DHCP runs.
 */
import { isIP } from "node:net";
import type { Config } from "./config/schema.js";
import type { Logger } from "./log.js";
import type { Clock } from "./clock.js";
import type { TrunkState } from "./events.js";
import type { Pbx } from "./pbx/pbx.js";
import type { AnsweringPort, CallFailure } from "./pbx/call-types.js";
import { DhcpClient } from "./dhcp/client.js";
import { trunkParamsFromLease, type Lease } from "./dhcp/lease.js";
import { Trunk, type TrunkLine } from "./trunk/trunk.js";
import { WanGuard } from "./trunk/wan-guard.js";

export interface WanSideOptions {
  config: Config;
  pbx: Pbx;
  clock: Clock;
  log: Logger;
  /** The household's rules for inbound line calls (DND, blocklist), from the call monitor. */
  dnd: () => boolean;
  screen: (caller: string, called: string, callId: string) => CallFailure | undefined;
  /** The answering machine, when `voicemail.enabled`. */
  answering?: AnsweringPort;
  onTrunkState: (s: TrunkState) => void;
}

export class WanSide {
  readonly trunk: Trunk;
  private dhcp?: DhcpClient;
  private guard?: WanGuard;
  private readonly config: Config;
  private readonly log: Logger;

  constructor(private readonly opts: WanSideOptions) {
    const cfg = (this.config = opts.config);
    this.log = opts.log.child({ name: "trunk" });
    const callerIds = new Map(cfg.extensions.filter((e) => e.caller_id).map((e) => [e.number, e.caller_id!]));
    this.trunk = new Trunk({
      pbx: opts.pbx,
      clock: opts.clock,
      log: this.log,
      serverPort: cfg.trunk.server_port,
      localPort: cfg.trunk.local_port,
      registerExpires: cfg.trunk.register_expires,
      refreshRatio: cfg.trunk.refresh_ratio,
      channels: cfg.trunk.channels,
      sessionExpires: cfg.trunk.session_expires,
      user: cfg.trunk.user,
      password: cfg.trunk.password,
      ring: cfg.inbound.ring,
      ringByNumber: cfg.inbound.numbers,
      callerIdOf: (ext) => callerIds.get(ext),
      dnd: opts.dnd,
      screen: (caller, called, callId) => opts.screen(caller, called, callId),
      answering: opts.answering,
      logMessages: cfg.log.sip_messages,
      onState: opts.onTrunkState,
    });
    opts.pbx.setTrunk(this.trunk);
  }

  /** Starts DHCP (or configures the trunk at once with `wan.interface: none`). */
  async start(): Promise<void> {
    const cfg = this.config;
    const log = this.log;
    this.opts.onTrunkState({ state: "acquiring" });
    if (cfg.wan.interface === "none") {
      const line = this.lineFrom(undefined);
      if (line) await this.trunk.configure(line);
      return;
    }
    const d = cfg.wan.dhcp;
    this.dhcp = new DhcpClient({
      interface: cfg.wan.interface,
      mac: cfg.wan.mac,
      stateDir: cfg.state_dir,
      requestOptions: d.request_options,
      vendorClass: d.vendor_class,
      enterprise: d.enterprise,
      defaultRoute: d.default_route,
      log: this.opts.log.child({ name: "dhcp" }),
      clock: this.opts.clock,
    });
    if (cfg.wan.guard === "nftables") this.guard = new WanGuard({ log });
    const apply = async (lease: Lease) => {
      const line = this.lineFrom(lease);
      if (!line) return;
      await this.guard?.apply({ wanInterface: cfg.wan.interface, leaseAddress: line.localAddress, trunkPort: cfg.trunk.local_port, lanPort: cfg.lan.port, rtpPorts: cfg.media.rtp_ports });
      this.trunk.configure(line).catch((err: unknown) => log.error({ err }, "trunk configuration failed"));
    };
    // One lease at a time, in order: the guard's nft run must not let a later lease overtake.
    let leases = Promise.resolve();
    const next = (l: Lease) => void (leases = leases.then(() => apply(l)));
    this.dhcp.on("bound", next);
    this.dhcp.on("changed", next);
    this.dhcp.on("expired", () => void this.trunk.down("DHCP lease expired").catch((err: unknown) => log.error({ err }, "trunk shutdown after lease loss failed")));
    this.dhcp.on("error", (err) => log.warn({ err }, "dhcp error"));
    await this.dhcp.start();
  }

  /** The line's parameters: the lease's, with anything set in `trunk:` taking precedence. */
  private lineFrom(lease: Lease | undefined): TrunkLine | undefined {
    const t = this.config.trunk;
    const d = this.config.wan.dhcp;
    const p = lease ? trunkParamsFromLease(lease, { enterprise: d.enterprise, numberCode: d.number_code, additionalCode: d.additional_code, domainCode: d.domain_code }) : { additional_numbers: [] as string[] };
    const line = {
      localAddress: t.local_address ?? lease?.address,
      server: t.server ?? p.server,
      domain: t.domain ?? p.domain,
      number: t.number ?? p.number,
      additionalNumbers: t.additional_numbers.length ? t.additional_numbers : p.additional_numbers,
    };
    const missing = Object.entries(line).filter(([, v]) => v === undefined).map(([k]) => k);
    if (missing.length) {
      const err = `the lease does not say: ${missing.join(", ")} (set them under trunk:)`;
      this.log.error({ missing }, err);
      this.opts.onTrunkState({ state: "failed", last_error: err });
      return undefined;
    }
    // Requests are taken from every SIP server the lease names (the trunk uses the first).
    return { ...line, servers: lease?.sip_servers.filter((a) => isIP(a) !== 0) } as TrunkLine;
  }

  /** The guard's rules off the WAN port. */
  removeGuard(): Promise<void> | undefined {
    return this.guard?.remove();
  }

  /** Stops the DHCP client (releasing the lease when `wan.dhcp.release_on_shutdown`). */
  stopDhcp(): Promise<void> | undefined {
    return this.dhcp?.stop({ release: this.config.wan.dhcp.release_on_shutdown });
  }
}
