/**
 * The DHCP client state machine (RFC 2131 §4.4, figure 5), without I/O: messages go out
 * and leases come back through `DhcpMachineHooks`, time through the injected Clock.
 *
 *   INIT ──DISCOVER──> SELECTING ──OFFER/REQUEST──> REQUESTING ──ACK──> BOUND
 *   INIT-REBOOT ──REQUEST──> REBOOTING ──ACK──> BOUND            (NAK anywhere → INIT)
 *   BOUND ──T1──> RENEWING (unicast) ──T2──> REBINDING (broadcast) ──expiry──> INIT
 *
 * Two timers: `retransmit` (§4.1 backoff within a state) and `lease` (T1, T2, expiry).
 * Every input checks the state it arrives in; anything unexpected is ignored and logged.
 * Every state change goes through transition(), which refuses (and logs) a move figure 5
 * does not draw (client-transitions.ts): the state entered runs nothing then.
 */
import type { Clock, TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { dhcpTransitionAllowed, type DhcpState } from "./client-transitions.js";
import { INFINITE_LEASE, leaseExpiresAt, leaseFromAck, sameParameters, type Lease } from "./lease.js";
import { ipv4ListOption } from "./options/codec.js";
import { decodeDhcpMessage, BOOTREPLY, DhcpMessageType, messageType, messageTypeName, OPT_MESSAGE, OPT_SERVER_ID, type DhcpMessage } from "./packet.js";
import { buildClientMessage, type ClientIdentity, type RequestKind } from "./requests.js";
import { backoffMs, renewRetransmitAt } from "./retransmit.js";

export type { DhcpState } from "./client-transitions.js";

export type LeaseChange = "bound" | "renewed" | "changed";

export interface DhcpMachineHooks {
  send(msg: DhcpMessage, src: string, dst: string): void;
  /** A lease was acquired (bound) or extended (renewed: same parameters; changed: not). */
  leased(kind: LeaseChange, lease: Lease, previous: Lease | null): void;
  /** The lease is gone: it ran out, or the server refused it with a NAK. */
  lost(reason: "expired" | "nak", lease: Lease): void;
}

export interface DhcpMachineOptions {
  iface: string;
  identity: ClientIdentity;
  clock: Clock;
  log: Logger;
  hooks: DhcpMachineHooks;
  /** Uniform [0,1); injectable so tests pin the backoff jitter and xids. */
  random?: () => number;
  /**
   * Upper bound of the random wait before the first DISCOVER. RFC 2131 §4.4.1 suggests 1–10 s
   * to spread many clients booting together; on the ONU port there is one client, so 1 s.
   */
  initDelayMs?: number;
  /** REQUESTs sent in REQUESTING / REBOOTING before giving up to INIT (§3.1 step 5, §3.2). */
  maxRequestAttempts?: number;
}

const BROADCAST = "255.255.255.255";
const ZERO = "0.0.0.0";
/** Timers longer than this overflow Node's setTimeout; longer waits are chained. */
const MAX_TIMER_MS = 0x7fffffff;

export class DhcpClientMachine {
  private st: DhcpState = "stopped";
  private current: Lease | null = null;
  /** The lease being replaced in REBOOTING/INIT, handed to `leased` as `previous`. */
  private stale: Lease | null = null;
  private xid = 0;
  private attempt = 0;
  private exchangeStart = 0;
  private requestSentAt = 0;
  private offer: { address: string; serverId: string } | null = null;
  private naks = 0;
  private retransmitTimer: TimerHandle | undefined;
  private leaseTimer: TimerHandle | undefined;
  private readonly random: () => number;
  /** Refused transitions: a bug, but one a stream of replies could repeat. */
  private readonly refusedLog: RateLimitedLog;

  constructor(private readonly o: DhcpMachineOptions) {
    this.random = o.random ?? Math.random;
    this.refusedLog = new RateLimitedLog(o.log, 5, () => o.clock.now());
  }

  get state(): DhcpState {
    return this.st;
  }

  get lease(): Lease | null {
    return this.current;
  }

  /** Start in INIT-REBOOT with a saved, unexpired lease (§4.4.2), else INIT. */
  start(saved: Lease | null): void {
    if (this.st !== "stopped") return;
    if (saved && leaseExpiresAt(saved) > this.o.clock.now()) {
      this.stale = saved;
      if (this.transition("init-reboot")) this.enterRebooting(saved);
    } else {
      this.enterInit(this.randomDelay(this.o.initDelayMs ?? 1000));
    }
  }

  /**
   * Stop all timers. Returns the RELEASE to send (§4.4.6) when asked and a lease is held;
   * the caller sends it and takes the address off.
   */
  stop(release: boolean): { lease: Lease | null; release: DhcpMessage | null } {
    const lease = this.current;
    const held = this.st === "bound" || this.st === "renewing" || this.st === "rebinding";
    this.clearTimers();
    this.transition("stopped");
    if (!release || !lease || !held) return { lease, release: null };
    this.current = null;
    const msg = buildClientMessage(this.o.identity, { type: "release", ciaddr: lease.address, serverId: lease.server_id }, this.newXid(), 0);
    return { lease, release: msg };
  }

  /** Feed one received DHCP payload. Never throws. */
  receive(payload: Buffer, from: string): void {
    const { message: m, problems } = decodeDhcpMessage(payload);
    if (problems.length > 0) this.o.log.debug({ problems, from }, "DHCP message problems");
    if (!m || m.op !== BOOTREPLY || m.xid !== this.xid) return;
    if (!m.chaddr.subarray(0, this.o.identity.mac.length).equals(this.o.identity.mac)) return;
    const type = messageType(m);
    const serverId = ipv4ListOption(m.options, OPT_SERVER_ID, [])?.[0];
    this.o.log.debug({ type: messageTypeName(type), from, server: serverId, yiaddr: m.yiaddr, state: this.st }, "DHCP reply");
    switch (this.st) {
      case "selecting":
        if (type === DhcpMessageType.offer && m.yiaddr !== ZERO && serverId) {
          // §4.4.1: the first acceptable offer wins; collecting more buys nothing on the ONU port.
          this.offer = { address: m.yiaddr, serverId };
          this.enterRequesting();
        }
        return;
      case "requesting":
        if (serverId && this.offer && serverId !== this.offer.serverId) return; // another server's answer
        if (type === DhcpMessageType.ack) return this.bind(m, "bound", serverId);
        if (type === DhcpMessageType.nak) return this.nak(m);
        return;
      case "rebooting":
        if (type === DhcpMessageType.ack) return this.bind(m, "bound", serverId);
        if (type === DhcpMessageType.nak) return this.nak(m);
        return;
      case "renewing":
      case "rebinding":
        if (type === DhcpMessageType.ack) return this.bind(m, "renew", serverId);
        if (type === DhcpMessageType.nak) return this.nak(m);
        return;
      default:
        return;
    }
  }

  // ---- states ----

  private enterInit(delayMs: number): void {
    if (!this.transition("init")) return;
    this.clearTimers();
    this.offer = null;
    this.retransmitTimer = this.o.clock.setTimeout(() => this.enterSelecting(), delayMs);
  }

  private enterSelecting(): void {
    if (!this.transition("selecting")) return;
    this.xid = this.newXid();
    this.attempt = 0;
    this.exchangeStart = this.o.clock.now();
    this.sendDiscover();
  }

  private sendDiscover(): void {
    if (this.st !== "selecting") return;
    this.sendMsg({ type: "discover" }, ZERO, BROADCAST);
    // §4.1: keep trying; the backoff caps at 64 s.
    this.retransmitTimer = this.o.clock.setTimeout(() => this.sendDiscover(), this.backoff(this.attempt++));
  }

  private enterRequesting(): void {
    if (!this.transition("requesting")) return;
    this.clearRetransmit();
    this.attempt = 0;
    this.requestSentAt = this.o.clock.now();
    this.sendRequest();
  }

  private enterRebooting(saved: Lease): void {
    if (!this.transition("rebooting")) return;
    this.xid = this.newXid();
    this.attempt = 0;
    this.exchangeStart = this.requestSentAt = this.o.clock.now();
    this.sendRequest(saved);
  }

  /** REQUESTING and REBOOTING: broadcast, give up to INIT after maxRequestAttempts. */
  private sendRequest(saved?: Lease): void {
    if (this.st !== "requesting" && this.st !== "rebooting") return;
    if (this.attempt >= (this.o.maxRequestAttempts ?? 4)) {
      this.o.log.info({ state: this.st }, "no answer to DHCPREQUEST; back to INIT");
      return this.enterInit(0);
    }
    const kind: RequestKind =
      this.st === "rebooting"
        ? { type: "request-init-reboot", requestedIp: saved!.address }
        : { type: "request-selecting", requestedIp: this.offer!.address, serverId: this.offer!.serverId };
    this.sendMsg(kind, ZERO, BROADCAST);
    this.retransmitTimer = this.o.clock.setTimeout(() => this.sendRequest(saved), this.backoff(this.attempt++));
  }

  /** False (nothing changed) when BOUND may not be entered from here. */
  private enterBound(lease: Lease): boolean {
    if (!this.transition("bound")) return false;
    this.current = lease;
    this.stale = null;
    this.clearTimers();
    if (lease.lease_time !== INFINITE_LEASE) this.scheduleLease(lease.acquired_at + lease.t1 * 1000, () => this.enterRenewing());
    return true;
  }

  /** §4.4.5: at T1 unicast a REQUEST (ciaddr set, no 50/54) to the server that granted it. */
  private enterRenewing(): void {
    const lease = this.current;
    if (!lease || !this.transition("renewing")) return;
    this.xid = this.newXid();
    this.exchangeStart = this.requestSentAt = this.o.clock.now();
    this.scheduleLease(lease.acquired_at + lease.t2 * 1000, () => this.enterRebinding());
    this.sendRenew();
  }

  /** §4.4.5: at T2 broadcast the REQUEST to any server. */
  private enterRebinding(): void {
    const lease = this.current;
    if (!lease || !this.transition("rebinding")) return;
    this.clearRetransmit();
    this.xid = this.newXid();
    this.requestSentAt = this.o.clock.now();
    this.scheduleLease(leaseExpiresAt(lease), () => this.expire());
    this.sendRenew();
  }

  private sendRenew(): void {
    const lease = this.current;
    if (!lease || (this.st !== "renewing" && this.st !== "rebinding")) return;
    const renewing = this.st === "renewing";
    this.sendMsg(
      renewing ? { type: "request-renewing", ciaddr: lease.address } : { type: "request-rebinding", ciaddr: lease.address },
      lease.address,
      renewing ? lease.server_id : BROADCAST,
    );
    const deadline = renewing ? lease.acquired_at + lease.t2 * 1000 : leaseExpiresAt(lease);
    const now = this.o.clock.now();
    const at = renewRetransmitAt(now, deadline);
    if (at !== null) this.retransmitTimer = this.o.clock.setTimeout(() => this.sendRenew(), at - now);
  }

  /** §4.4.5: the lease ran out: stop using the address and start over. */
  private expire(): void {
    const lease = this.current;
    if (!lease) return;
    this.o.log.warn({ address: lease.address }, "DHCP lease expired");
    this.current = null;
    this.stale = null;
    this.o.hooks.lost("expired", lease);
    this.enterInit(this.randomDelay(1000));
  }

  private bind(ack: DhcpMessage, how: "bound" | "renew", from: string | undefined): void {
    const problems: string[] = [];
    const fallbackServer = this.st === "rebooting" ? undefined : (this.offer?.serverId ?? this.current?.server_id);
    const lease = leaseFromAck(ack, this.o.iface, this.requestSentAt, problems, from ?? fallbackServer);
    if (problems.length > 0) this.o.log.warn({ problems }, "DHCPACK problems");
    if (!lease) return;
    const previous = how === "bound" ? this.stale : this.current;
    if (!this.enterBound(lease)) return;
    this.naks = 0;
    const kind: LeaseChange = how === "bound" ? "bound" : sameParameters(previous, lease) ? "renewed" : "changed";
    this.o.log.info({ address: `${lease.address}/${lease.prefix}`, server: lease.server_id, lease_time: lease.lease_time, kind }, "DHCP lease");
    this.o.hooks.leased(kind, lease, previous);
  }

  /** §3.1 step 5 / §4.4.5: a NAK ends the lease; restart after a backoff that grows per NAK. */
  private nak(m: DhcpMessage): void {
    const text = m.options.get(OPT_MESSAGE)?.toString("latin1").replace(/[^\x20-\x7e]/g, "?");
    this.o.log.warn({ state: this.st, message: text }, "DHCPNAK");
    // In REBOOTING the refused lease is the saved one, possibly still on the interface.
    const lost = this.current ?? this.stale;
    this.current = null;
    this.stale = null;
    if (lost) this.o.hooks.lost("nak", lost);
    const delay = Math.min(2 ** this.naks, 64) * 1000 * this.random();
    this.naks++;
    this.enterInit(delay);
  }

  // ---- helpers ----

  private sendMsg(kind: RequestKind, src: string, dst: string): void {
    const secs = (this.o.clock.now() - this.exchangeStart) / 1000;
    const msg = buildClientMessage(this.o.identity, kind, this.xid, secs);
    this.o.log.debug({ kind: kind.type, dst, xid: this.xid.toString(16) }, "DHCP send");
    this.o.hooks.send(msg, src, dst);
  }

  private backoff(n: number): number {
    return backoffMs(n, this.random);
  }

  private randomDelay(max: number): number {
    return Math.floor(this.random() * max);
  }

  private newXid(): number {
    return Math.floor(this.random() * 0x100000000) >>> 0;
  }

  private scheduleLease(at: number, fn: () => void): void {
    this.o.clock.clearTimeout(this.leaseTimer);
    const wait = at - this.o.clock.now();
    if (wait > MAX_TIMER_MS) this.leaseTimer = this.o.clock.setTimeout(() => this.scheduleLease(at, fn), MAX_TIMER_MS);
    else this.leaseTimer = this.o.clock.setTimeout(fn, Math.max(0, wait));
  }

  private clearRetransmit(): void {
    this.o.clock.clearTimeout(this.retransmitTimer);
    this.retransmitTimer = undefined;
  }

  private clearTimers(): void {
    this.clearRetransmit();
    this.o.clock.clearTimeout(this.leaseTimer);
    this.leaseTimer = undefined;
  }

  /**
   * The one place the state changes. A move RFC 2131 figure 5 does not draw is refused:
   * the state stays, the caller enters nothing (no send, no timer), and it is logged.
   */
  protected transition(to: DhcpState): boolean {
    if (!dhcpTransitionAllowed(this.st, to)) {
      this.refusedLog.warn({ from: this.st, to }, "DHCP state transition refused");
      return false;
    }
    if (this.st !== to) this.o.log.debug({ from: this.st, to }, "DHCP state");
    this.st = to;
    return true;
  }
}
