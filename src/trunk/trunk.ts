/**
 * The NGN trunk: a SIP stack of its own on the WAN side (the lease address, port 5060),
 * the line's registration, inbound calls from the trunk server (and only from it) ringing
 * the extensions `inbound` names, and outbound calls the dialplan sends here. Configured
 * from the DHCP lease by the gateway; `configure()` again when the lease changes.
 */
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import type { TrunkState } from "../events.js";
import type { Endpoint, NameAddr, SipRequest } from "../sip/message/types.js";
import { createResponse, newTag, fromAddr, getHeader, getHeaders, parseNameAddr, setHeader, toAddr } from "../sip/message/index.js";
import { UdpTransport } from "../sip/transport-udp.js";
import type { Transport } from "../sip/transport.js";
import type { ServerTransaction } from "../sip/transaction/layer.js";
import { DrainingLayer } from "../sip/transaction/draining-layer.js";
import type { Pbx, TrunkPort } from "../pbx/pbx.js";
import type { AnsweringPort, CallFailure, CallTarget } from "../pbx/call-types.js";
import { TrunkRegistration } from "./registration.js";
import { NGN_ALLOW, NgnSide } from "./ngn-side.js";

export interface TrunkLine {
  /** Our WAN address (the lease's). */
  localAddress: string;
  server: string;
  /** Every SIP server the lease names (option 120), the one used among them; requests come only from these. */
  servers?: string[];
  domain: string;
  number: string;
  additionalNumbers: string[];
}

export interface TrunkOptions {
  pbx: Pbx;
  clock: Clock;
  log: Logger;
  serverPort: number;
  localPort: number;
  registerExpires: number;
  refreshRatio: number;
  channels: number;
  sessionExpires: number;
  user?: string;
  password?: string;
  /** Who rings for a call to the main number or an additional one. */
  ring: string[];
  ringByNumber: Record<string, string[]>;
  /** Per extension: which of the line's numbers it calls out with. */
  callerIdOf: (extension: string) => string | undefined;
  dnd: () => boolean;
  /** The answering machine: rings beside the phones, and answers at once on DND or when no phone rings. */
  answering?: AnsweringPort;
  /** Screens an inbound call before anyone rings (blocklist): a failure refuses it. */
  screen?: (caller: string, called: string, callId: string) => CallFailure | undefined;
  logMessages?: boolean;
  onState: (s: TrunkState) => void;
  /** Tests: an in-memory transport instead of a UDP socket on the lease address (`accept`: see UdpTransportOptions). */
  openTransport?: (local: Endpoint, accept: (from: Endpoint) => boolean) => Promise<Transport>;
}

/** How long ending the calls may hold up a lease change or a shutdown (their BYEs, CANCELs). */
export const DRAIN_MS = 2_000;

export class Trunk implements TrunkPort {
  private line?: TrunkLine;
  private transport?: Transport;
  private tx?: DrainingLayer;
  private side?: NgnSide;
  /** Set while closeLine() ends the calls and drains: no call may start on the line meanwhile. */
  private closing = false;
  private registration?: TrunkRegistration;
  private state: TrunkState = { state: "acquiring" };
  private readonly log: Logger;
  private refused = 0;
  /** Requests from outside the NGN server: one line a second, the rest counted (a WAN scan). */
  private readonly refusedLog: RateLimitedLog;
  /** configure(), down() and stop() run one at a time: each may wait for calls to end. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly opts: TrunkOptions) {
    this.log = opts.log;
    this.refusedLog = new RateLimitedLog(opts.log, 1, () => opts.clock.now());
  }

  get status(): TrunkState {
    return this.state;
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Bring the trunk up on a (new) lease; re-registers at once. A new address, server or
   * domain first ends every call on the old one (their BYEs still go out on the old
   * socket), then closes it and opens the new one.
   */
  configure(line: TrunkLine): Promise<void> {
    return this.serial(async () => {
      const prev = this.line;
      const moved = !prev || !this.transport || prev.localAddress !== line.localAddress || prev.server !== line.server || prev.domain !== line.domain;
      if (moved) {
        await this.closeLine(prev ? "the line's lease changed" : "trunk starting");
        this.line = line;
        await this.open(line);
      }
      this.line = line;
      this.registration!.start({
        server: { address: line.server, port: this.opts.serverPort },
        domain: line.domain,
        number: line.number,
        localAddress: line.localAddress,
        localPort: this.transport!.local.port,
        user: this.opts.user,
        password: this.opts.password,
      });
    });
  }

  private async open(line: TrunkLine): Promise<void> {
    const local = { address: line.localAddress, port: this.opts.localPort };
    // Only the line's SIP server(s) may talk to the trunk: anything else on the WAN is a
    // scanner, dropped before it can cost a parse or a transaction, and counted. (The source
    // address alone is forgeable from the LAN side: wan-guard.ts makes the kernel drop what
    // does not arrive on the WAN interface.)
    const accept = (from: Endpoint) => this.fromLineServer(from);
    this.transport = this.opts.openTransport
      ? await this.opts.openTransport(local, accept)
      : await UdpTransport.bind({ ...local, log: this.log.child({ name: "trunk.transport" }), logMessages: this.opts.logMessages, accept, reuseAddr: true }).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== "EADDRINUSE") throw err;
          throw new Error(`${line.localAddress}:${this.opts.localPort} is taken (lan.listen on the same address and port?): ${err.message}`);
        });
    // docs/ngn.md "Registration": never rport in Via (400 on NTT West); sent-by is the lease address.
    this.tx = new DrainingLayer({ transport: this.transport, log: this.log, clock: this.opts.clock, via: { host: line.localAddress, rport: false }, respondToSource: false });
    this.side = new NgnSide({ tx: this.tx, host: line.localAddress, port: this.transport.local.port, clock: this.opts.clock, log: this.log, sessionExpires: this.opts.sessionExpires });
    const registration = new TrunkRegistration({ tx: this.tx, clock: this.opts.clock, log: this.log, expires: this.opts.registerExpires, refreshRatio: this.opts.refreshRatio });
    this.registration = registration;
    registration.on("state", (state, d) => {
      if (registration !== this.registration) return; // a replaced registration never speaks for the trunk
      this.state = {
        state,
        number: this.line?.number,
        domain: this.line?.domain,
        server: this.line?.server,
        expires_at: d.expiresAt ? new Date(d.expiresAt).toISOString() : undefined,
        last_error: d.lastError,
      };
      this.opts.onState(this.state);
    });
    this.tx.onRequest((req, tx, from) => this.onRequest(req, tx, from));
  }

  /**
   * End every call on the line while its socket still works (docs/ngn.md "Inbound calls": a dangling dialog
   * blocks the line for minutes), stop the registration's timers, wait (bounded) for the
   * BYEs and CANCELs to be answered, then close the layer and the socket.
   */
  private async closeLine(reason: string, unregister = false): Promise<void> {
    const registration = this.registration;
    // From here until the socket is closed, no call may start on this line: hangupOn runs
    // once, and a call admitted during the drain would outlive it on a closed socket.
    this.closing = true;
    registration?.dispose();
    if (this.side) {
      const n = this.opts.pbx.hangupOn(this.side, reason);
      if (n > 0) this.log.info({ calls: n, reason }, "ending the calls on the line");
    }
    await this.tx?.drained(this.opts.clock, DRAIN_MS);
    if (unregister) await registration?.stop();
    this.side = undefined;
    try {
      await this.teardown();
    } finally {
      this.closing = false;
    }
  }

  /** The lease is gone: end the calls on it and close the socket; nothing can register until configure(). */
  down(reason: string): Promise<void> {
    return this.serial(async () => {
      await this.closeLine(reason);
      this.registration?.lost(reason);
    });
  }

  private fromLineServer(from: Endpoint): boolean {
    const line = this.line;
    return line !== undefined && (from.address === line.server || (line.servers?.includes(from.address) ?? false));
  }

  /** What the trunk's socket dropped (sources other than the line's servers, malformed datagrams) or failed to send. */
  transportStats(): Record<string, number> | undefined {
    const t = this.transport as { stats?: () => object } | undefined;
    return t?.stats ? { ...(t.stats() as Record<string, number>), refused: this.refused } : { refused: this.refused };
  }

  private onRequest(req: SipRequest, tx: ServerTransaction | undefined, from: Endpoint): void {
    const pbx = this.opts.pbx;
    if (!this.fromLineServer(from)) {
      // The transport's filter keeps these out; a transport without one still refuses them.
      this.refused++;
      this.refusedLog.warn({ from: `${from.address}:${from.port}`, method: req.method }, "request from outside the NGN server refused");
      return tx?.respond(createResponse(req, 403, "Forbidden"));
    }
    if (req.method === "ACK") return pbx.onAck(req);
    if (!tx) return;
    if (pbx.onInDialog(req, tx)) return;
    if (this.closing && req.method !== "CANCEL") return tx.respond(createResponse(req, 503, "Service Unavailable", { toTag: newTag() }));
    if (req.method === "INVITE") return void this.inbound(req, tx, from);
    if (req.method === "OPTIONS") return tx.respond(createResponse(req, 200, "OK"));
    const res = createResponse(req, 405, "Method Not Allowed");
    setHeader(res, "allow", NGN_ALLOW);
    tx.respond(res);
  }

  /** Calls holding one of the line's channels, counted from admission (before any await). */
  private activeTrunkCalls(): number {
    return this.side ? this.opts.pbx.activeOn(this.side) : 0;
  }

  private async inbound(req: SipRequest, tx: ServerTransaction, from: Endpoint): Promise<void> {
    const called = calledNumber(req) ?? this.line!.number;
    const caller = callerIdentity(req);
    const ring = this.opts.ringByNumber[called] ?? this.opts.ring;
    this.log.info({ from: caller.number, name: caller.name, to: called, ring }, "incoming call from the line");
    let failure: CallFailure | undefined;
    let targets: CallTarget[] = [];
    // DND: the line hears busy, and the call is recorded as missed (someone did call); or the
    // answering machine takes it at once. It also answers at once when no phone would ring,
    // and otherwise rings beside the phones, answering after its delay.
    // The call's id is the INVITE's Call-ID (Call), which the message's event repeats.
    const answering = (when: "now" | "delayed") => this.opts.answering?.target(called, this.line!.localAddress, when, getHeader(req, "call-id") ?? "");
    const screened = this.opts.screen?.(caller.number, called, getHeader(req, "call-id") ?? "");
    if (screened) failure = screened;
    else if (this.opts.dnd()) {
      const machine = answering("now");
      if (machine) targets = [machine];
      else failure = { status: 486, reason: "Busy Here", why: "do not disturb", event: "missed" };
    } else {
      targets = ring.flatMap((ext) => this.opts.pbx.extensionTargets(ext));
      const machine = answering(targets.length === 0 ? "now" : "delayed");
      if (machine) targets.push(machine);
      if (targets.length === 0) failure = { status: 480, reason: "Temporarily Unavailable" };
    }
    try {
      await this.opts.pbx.startCall(req, tx, from, this.side!, caller, called, "inbound", failure ? [] : targets, failure);
    } catch (err) {
      this.log.error({ err }, "inbound call failed");
      tx.respond(createResponse(req, 500, "Server Internal Error"));
    }
  }

  /** TrunkPort: where an outbound call goes, or why it cannot. */
  outboundTarget(dialled: string, caller: string): CallTarget | { status: number; reason: string; why?: string } {
    const line = this.line;
    if (!line || !this.side || this.closing || this.registration?.state !== "registered") {
      const state = this.closing ? "closing" : !line || !this.side ? "no line (waiting for the WAN lease)" : `registration ${this.registration?.state ?? "not started"}`;
      return { status: 503, reason: "Trunk Not Registered", why: `trunk ${state}` };
    }
    if (this.activeTrunkCalls() >= this.opts.channels) return { status: 486, reason: "Line Busy", why: `trunk busy: ${this.opts.channels} channel(s) in use` };
    const own = this.opts.callerIdOf(caller);
    const number = own && (own === line.number || line.additionalNumbers.includes(own)) ? own : line.number;
    const from: NameAddr = { uri: { scheme: "sip", user: number, host: line.domain, params: new Map(), headers: new Map() }, params: new Map() };
    const headers = this.side.inviteHeaders();
    // P-Preferred-Identity only to choose among the line's own numbers (docs/ngn.md "Outbound calls").
    if (number !== line.number) headers.push({ name: "p-preferred-identity", value: `<sip:${number}@${line.domain}>` });
    return {
      // docs/ngn.md "Outbound calls": exactly sip:<digits>@<P-CSCF>:5060, no URI parameters.
      uri: { scheme: "sip", user: dialled, host: line.server, port: this.opts.serverPort, params: new Map(), headers: new Map() },
      destination: { address: line.server, port: this.opts.serverPort },
      to: { uri: { scheme: "sip", user: dialled, host: line.domain, params: new Map(), headers: new Map() }, params: new Map() },
      from,
      side: this.side,
      headers,
      label: `trunk ${dialled}`,
    };
  }

  private async teardown(): Promise<void> {
    const transport = this.transport;
    this.tx?.close();
    this.transport = undefined;
    this.tx = undefined;
    if (!transport) return;
    // Node drops a datagram whose send() is still pending when the socket closes: let the
    // last ones (a 480, an ACK) leave first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await transport.close();
  }

  /** Shutdown: end the calls, wait (bounded) for their BYEs to be answered, unregister, close. */
  stop(): Promise<void> {
    return this.serial(() => this.closeLine("gateway shutting down", true));
  }
}

/** The number called: P-Called-Party-ID's user (without ;isub), else the To user (docs/ngn.md "Inbound calls"). */
export function calledNumber(req: SipRequest): string | undefined {
  const pcpi = getHeader(req, "p-called-party-id");
  if (pcpi) {
    try {
      const u = parseNameAddr(pcpi).uri.user;
      if (u) return u.split(";")[0];
    } catch {
      /* fall through to To */
    }
  }
  return toAddr(req).uri.user?.split(";")[0];
}

/**
 * The caller: P-Asserted-Identity (sip: or tel:, comma-separated or repeated), else From;
 * `anonymous` when withheld (From sip:anonymous@anonymous.invalid, RFC 3323).
 */
export function callerIdentity(req: SipRequest): { number: string; name?: string } {
  const from = fromAddr(req);
  if (from.uri.user?.toLowerCase() === "anonymous" || from.uri.host.toLowerCase() === "anonymous.invalid") {
    return { number: "anonymous", name: "Anonymous" };
  }
  let name: string | undefined;
  for (const v of getHeaders(req, "p-asserted-identity")) {
    try {
      const na = parseNameAddr(v);
      name ??= na.displayName;
      const user = na.uri.user?.split(";")[0];
      if (user && /^\+?[0-9*#]+$/.test(user)) return { number: user, name: na.displayName ?? name };
    } catch {
      /* a malformed value: try the next */
    }
  }
  return { number: from.uri.user ?? "unknown", name: name ?? from.displayName };
}
