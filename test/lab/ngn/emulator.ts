/**
 * The NGN emulator for the trunk's lab (issue 5): a namespace "<prefix>-ngn" joined to the
 * gateway's WAN by a veth, with
 *  - dnsmasq as the line's DHCP server (dnsmasq-config.ts: options 3, 120, 121, 125; no DNS),
 *  - pcscf.mjs on <pcscf>:5060: the strict registrar and a relay to the SIPp call scenarios,
 *  - SIPp accepting outbound calls (scenarios/outbound-accept.xml, RTP echoed back), and
 *    SIPp placing inbound calls on demand (scenarios/inbound-call.xml, inbound-cancel.xml),
 *  - tshark capturing the access link for the whole run (capture.ts).
 * The caller creates the gateway's host; startNgn creates the NGN host and the link.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { Lab, waitForLine } from "../netns.js";
import { NGN_LAB } from "./addresses.js";
import { AccessCapture } from "./capture.js";
import { dnsmasqConfig, type LineConfig } from "./dnsmasq-config.js";
import type { LineFacts } from "./rules.js";
import { writeScenario } from "./scenario-template.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const SCENARIOS = join(HERE, "scenarios");

/** One JSON line of pcscf.mjs: a datagram received ("rx"), sent ("tx"), relayed, or an event. */
export interface PcscfEvent {
  t: number;
  ev: "ready" | "rx" | "tx" | "relay" | "drop" | "binding" | "control" | "bindings" | "error";
  peer?: string;
  side?: "gw" | "ngn";
  first?: string;
  method?: string;
  status?: number;
  callId?: string;
  cseq?: string;
  /** Why the front answered as it did ("403 source port", "400 rport", "200 registered"…). */
  note?: string;
  text?: string;
  aor?: string;
  contact?: string | null;
  expires?: number;
  source?: string;
  reason?: string;
}

export interface NgnOptions {
  /** The gateway's host (already added to the lab) and its end of the access link. */
  wanHost: string;
  wanIf?: string;
  wanMac?: string;
  mainNumber?: string;
  additionalNumbers?: string[];
  domain?: string;
  leaseSeconds?: number;
  /**
   * The longest registration the registrar grants (default 3600): a short one makes the
   * gateway's refresh point (docs/ngn.md "Registration": 40–50 % of the granted expiry) observable in a test.
   */
  grantExpires?: number;
  /** Refuse INVITEs from an address with no live registration (403), as a line does. */
  requireRegistration?: boolean;
  /** Start the outbound-call acceptor at once (default true, gateway hangs up). */
  outbound?: OutboundOptions | false;
}

export interface OutboundOptions {
  /** Pause before the 183 and before the 200 (ms). */
  ringMs?: number;
  answerMs?: number;
  /** How long to wait for the gateway's BYE before the NGN hangs up itself (ms). */
  byeWaitMs?: number;
  /**
   * Answer the NGN way docs/ngn.md expects but the plain acceptor does not model: a RELIABLE 183
   * with SDP (Require: 100rel, RSeq, RFC 3262 §3) that must be PRACKed, then a 200 without SDP
   * (the 183 carried the answer). scenarios/outbound-reliable.xml.
   */
  reliable183?: boolean;
}

export interface InboundCallOptions {
  /** The gateway's Contact, "ip:port" (default: the registered binding's host:port). */
  gw?: string;
  /** The number called (user part of the R-URI, To and P-Called-Party-ID); default main number. */
  called?: string;
  caller?: string;
  /** A withheld caller: From anonymous@anonymous.invalid, no P-Asserted-Identity. */
  anonymous?: boolean;
  ringWaitMs?: number;
  answerWaitMs?: number;
  /** UPDATE refresh (no SDP) this long after the ACK; 0 = none. */
  updateAfterMs?: number;
  /** Then a re-INVITE refresh with the same SDP (same o= version, RFC 3264 §8) this long after; 0 = none. */
  reinviteAfterMs?: number;
  /** Then an UPDATE refresh carrying that SDP again this long after; 0 = none. */
  updateSdpAfterMs?: number;
  /** Session-Expires and Min-SE of the INVITE and every refresh (default 300 and 300, docs/ngn.md "Inbound calls"). */
  sessionExpires?: number;
  minSe?: number;
  /** Wait this long for the gateway's BYE, then the NGN sends BYE. */
  byeWaitMs?: number;
  /**
   * Place it from a second SIPp (own port and media port), so it can run while another
   * inbound call is up: two calls at once on a two-channel line (trunk.channels: 2).
   */
  secondCaller?: boolean;
}

export interface MissedCallOptions {
  gw?: string;
  called?: string;
  caller?: string;
  ringWaitMs?: number;
  /** Ring this long after the 180 before the CANCEL. */
  ringMs?: number;
}

export interface RejectedCallOptions {
  gw?: string;
  called?: string;
  caller?: string;
  /** The final status the gateway must answer (480 nobody to ring, 486 DND or busy). */
  status: number;
  /** How long to wait for it (ms). */
  answerWaitMs?: number;
}

export interface SippRun {
  exitCode: number | null;
  /** SIPp's -trace_msg log of the run: every message sent and received. */
  messages: string;
  /** SIPp's -trace_err log: unexpected messages, failed checks. */
  errors: string;
}

export class Ngn {
  readonly dhcpLog: string[] = [];
  readonly sipLog: PcscfEvent[] = [];
  /** SIPp trace files (-trace_msg) of every SIPp run, by role, for assertions afterwards. */
  readonly sipLogs: Record<string, string> = {};
  readonly capture: AccessCapture;
  readonly dir: string;
  subnet: 0 | 1 = 0;
  private dnsmasq: ChildProcess | null = null;
  private pcscf: ChildProcess | null = null;
  private uas: ChildProcess | null = null;
  private runs = 0;
  private readonly line: Omit<LineConfig, "subnet" | "leaseFile">;

  constructor(
    readonly lab: Lab,
    readonly opts: NgnOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), "hgw-ngn-"));
    this.capture = new AccessCapture(lab, NGN_LAB.host, NGN_LAB.accessIf, join(this.dir, "access.pcapng"));
    this.line = {
      clientMac: opts.wanMac ?? NGN_LAB.wanMac,
      mainNumber: opts.mainNumber ?? NGN_LAB.mainNumber,
      additionalNumbers: opts.additionalNumbers ?? [NGN_LAB.additionalNumber],
      domain: opts.domain ?? NGN_LAB.domain,
      leaseSeconds: opts.leaseSeconds ?? NGN_LAB.leaseSeconds,
    };
  }

  get domain(): string {
    return this.line.domain;
  }
  get mainNumber(): string {
    return this.line.mainNumber;
  }
  /** What the rules in rules.ts check the gateway's messages against, for the current lease. */
  get facts(): LineFacts {
    return { lease: this.lease.lease, domain: this.line.domain, numbers: [this.line.mainNumber, ...this.line.additionalNumbers] };
  }
  /** The /30 currently handed out: { peer, lease, prefixLen, netmask }. */
  get lease(): (typeof NGN_LAB.subnets)[number] {
    return NGN_LAB.subnets[this.subnet];
  }

  // ---- DHCP ----------------------------------------------------------------------------

  async startDhcp(): Promise<void> {
    const conf = join(this.dir, `dnsmasq-${this.subnet}.conf`);
    writeFileSync(conf, dnsmasqConfig({ ...this.line, subnet: this.subnet, leaseFile: join(this.dir, `dnsmasq-${this.subnet}.leases`) }));
    const child = this.lab.spawn(NGN_LAB.host, "dnsmasq", ["--keep-in-foreground", `--conf-file=${conf}`, "--log-facility=-"]);
    child.stderr?.on("data", (d: Buffer) => this.dhcpLog.push(...d.toString().split("\n").filter((l) => l.length > 0)));
    this.dnsmasq = child;
    await waitForLine(child, /DHCP, IP range/, 10_000, "stderr");
  }

  async stopDhcp(): Promise<void> {
    await stopChild(this.dnsmasq, "SIGTERM");
    this.dnsmasq = null;
  }

  /**
   * The line now hands out the other /30 (a new address for the gateway). dnsmasq is
   * authoritative, so the gateway's next RENEW/REBIND of the old address gets a NAK (RFC 2131
   * §4.3.2) and it must start over with DISCOVER.
   */
  async changeLease(): Promise<void> {
    await this.stopDhcp();
    this.subnet = this.subnet === 0 ? 1 : 0;
    await this.startDhcp();
  }

  // ---- P-CSCF front --------------------------------------------------------------------

  async startPcscf(): Promise<void> {
    const cfg = {
      listen: NGN_LAB.pcscf,
      port: NGN_LAB.sipPort,
      domain: this.line.domain,
      numbers: [this.line.mainNumber, ...this.line.additionalNumbers],
      maxExpires: this.opts.grantExpires ?? 3600,
      minExpires: 60,
      uas: this.uas ? `${NGN_LAB.pcscf}:${NGN_LAB.uasPort}` : null,
      requireRegistration: this.opts.requireRegistration ?? true,
    };
    const child = this.lab.spawn(NGN_LAB.host, process.execPath, [join(HERE, "pcscf.mjs"), JSON.stringify(cfg)], { stdio: ["pipe", "pipe", "pipe"] });
    let buf = "";
    child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.sipLog.push(JSON.parse(line) as PcscfEvent);
        } catch {
          /* not JSON: ignore */
        }
      }
    });
    this.pcscf = child;
    await waitForLine(child, /"ev":"ready"/, 10_000);
  }

  /** Kill the front: the NGN is gone (ICMP port unreachable to everything, bindings lost). */
  async stopPcscf(): Promise<void> {
    await stopChild(this.pcscf, "SIGTERM");
    this.pcscf = null;
  }

  private control(cmd: object): void {
    this.pcscf?.stdin?.write(JSON.stringify(cmd) + "\n");
  }

  /**
   * Take the registrar down without killing the process: "down" drops REGISTERs silently
   * (timeouts), "503" answers 503 with Retry-After: 5. start() brings it back.
   */
  readonly registrar = {
    stop: (how: "down" | "503" = "down"): void => this.control({ registrar: how }),
    start: (): void => this.control({ registrar: "up" }),
  };

  /** The newest binding of an AOR (default the main number), or undefined if none/removed. */
  binding(aor = `sip:${this.line.mainNumber}@${this.line.domain}`): PcscfEvent | undefined {
    const b = [...this.sipLog].reverse().find((e) => e.ev === "binding" && e.aor === aor);
    return b && b.contact ? b : undefined;
  }

  /** Wait until the front logs an event matching pred (events logged before count too). */
  async waitForSip(pred: (e: PcscfEvent) => boolean, timeoutMs: number, from = 0): Promise<PcscfEvent> {
    const end = Date.now() + timeoutMs;
    for (let i = from; Date.now() < end; ) {
      for (; i < this.sipLog.length; i++) if (pred(this.sipLog[i])) return this.sipLog[i];
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no matching SIP event in ${timeoutMs} ms; last: ${JSON.stringify(this.sipLog.slice(-5).map((e) => e.note ?? e.first ?? e.ev))}`);
  }

  /** How many REGISTERs the registrar has granted so far. */
  grants(): number {
    return this.sipLog.filter((e) => e.note === "200 registered").length;
  }

  /** Waits until the registrar has granted more than `after` REGISTERs (the line is registered). */
  async waitRegistered(timeoutMs: number, after = 0): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.grants() <= after) {
      if (Date.now() >= end) throw new Error(`the line did not register within ${timeoutMs} ms (${this.grants()} grants, waiting for more than ${after})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Requests the gateway sent to the P-CSCF, by method (e.g. to assert no OPTIONS). */
  requestsFromGateway(method?: string): PcscfEvent[] {
    return this.sipLog.filter((e) => e.ev === "rx" && e.method !== undefined && (!method || e.method === method));
  }

  // ---- SIPp roles ----------------------------------------------------------------------

  private sippArgs(role: string, port: number, mediaPort: number): { args: string[]; trace: string; errors: string } {
    const trace = join(this.dir, `${role}-messages.log`);
    const errors = join(this.dir, `${role}-errors.log`);
    return {
      trace,
      errors,
      args: [
        "-i", NGN_LAB.pcscf, "-p", String(port),
        "-mi", NGN_LAB.media, "-mp", String(mediaPort), "-rtp_echo",
        "-key", "pcscf", NGN_LAB.pcscf,
        "-key", "domain", this.line.domain,
        "-trace_msg", "-message_file", trace,
        "-trace_err", "-error_file", errors,
        "-nostdin",
      ],
    };
  }

  /** (Re)start the SIPp that accepts the gateway's outbound calls, with these timings. */
  async startOutbound(o: OutboundOptions = {}): Promise<void> {
    await this.stopOutbound();
    const file = writeScenario(SCENARIOS, o.reliable183 ? "outbound-reliable" : "outbound-accept", this.dir, { ring_ms: o.ringMs ?? 200, answer_ms: o.answerMs ?? 300, bye_wait_ms: o.byeWaitMs ?? 60_000 }, `-${++this.runs}`);
    const { args, trace } = this.sippArgs(`outbound-${this.runs}`, NGN_LAB.uasPort, NGN_LAB.mediaPort);
    this.sipLogs.outbound = trace;
    const uas = this.lab.spawn(NGN_LAB.host, "sipp", ["-sf", file, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    uas.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    this.uas = uas;
    try {
      await waitForUdpPort(this.lab, NGN_LAB.uasPort);
    } catch (e) {
      throw new Error(`${(e as Error).message}; SIPp said: ${stderr.slice(-1000)}`);
    }
    this.control({ uas: `${NGN_LAB.pcscf}:${NGN_LAB.uasPort}` });
  }

  async stopOutbound(): Promise<void> {
    await stopChild(this.uas, "SIGTERM");
    this.uas = null;
    this.control({ uas: null });
  }

  private gwContact(gw?: string): string {
    if (gw) return gw;
    const b = this.binding();
    if (!b?.contact) throw new Error("no registered Contact to call: pass gw");
    const m = /@([^:;>]+)(?::(\d+))?/.exec(b.contact);
    if (!m) throw new Error(`cannot read host of ${b.contact}`);
    return `${m[1]}:${m[2] ?? "5060"}`;
  }

  private async runUac(role: string, file: string, called: string, gw: string, caller: string, timeoutS: number, second = false): Promise<SippRun> {
    const { args, trace, errors } = second ? this.sippArgs(role, NGN_LAB.uac2Port, NGN_LAB.mediaPort + 20) : this.sippArgs(role, NGN_LAB.uacPort, NGN_LAB.mediaPort + 10);
    this.sipLogs[role] = trace;
    const child = this.lab.spawn(NGN_LAB.host, "sipp", [
      `${NGN_LAB.pcscf}:${NGN_LAB.sipPort}`, "-sf", file, ...args,
      "-m", "1", "-s", called,
      "-key", "gw", gw, "-key", "caller", caller,
      // A fold (RFC 3261 §7.3.1) SIPp cannot write in a scenario: it trims each line.
      "-key", "pai_fold", `\r\n\t<tel:${caller}>`,
      "-timeout", `${timeoutS}s`, "-timeout_error",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const exitCode = await new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : "");
    return { exitCode, messages: read(trace), errors: read(errors) + stderr };
  }

  /** The NGN calls the line; resolves when SIPp ends (exitCode 0 = every check passed). */
  async placeInboundCall(o: InboundCallOptions = {}): Promise<SippRun> {
    const caller = o.caller ?? NGN_LAB.callerNumber;
    const role = `inbound-${++this.runs}`;
    const updateAfterMs = o.updateAfterMs ?? 2000;
    const reinviteAfterMs = o.reinviteAfterMs ?? 0;
    const updateSdpAfterMs = o.updateSdpAfterMs ?? 0;
    const values = {
      from_uri: o.anonymous ? `"Anonymous" <sip:anonymous@anonymous.invalid>` : `<sip:${caller}@${this.line.domain}>`,
      pai: !o.anonymous,
      ring_wait_ms: o.ringWaitMs ?? 10_000,
      answer_wait_ms: o.answerWaitMs ?? 30_000,
      update: updateAfterMs > 0,
      update_after_ms: updateAfterMs,
      reinvite: reinviteAfterMs > 0,
      reinvite_after_ms: reinviteAfterMs,
      update_sdp: updateSdpAfterMs > 0,
      update_sdp_after_ms: updateSdpAfterMs,
      se_s: o.sessionExpires ?? 300,
      min_se_s: o.minSe ?? 300,
      bye_wait_ms: o.byeWaitMs ?? 30_000,
    };
    const file = writeScenario(SCENARIOS, "inbound-call", this.dir, values, `-${this.runs}`);
    const total = Math.ceil((values.ring_wait_ms + values.answer_wait_ms + updateAfterMs + reinviteAfterMs + updateSdpAfterMs + values.bye_wait_ms) / 1000) + 10;
    return this.runUac(role, file, o.called ?? this.line.mainNumber, this.gwContact(o.gw), caller, total, o.secondCaller);
  }

  /** The NGN calls the line and CANCELs after ringMs of ringing (a missed call). */
  async placeMissedCall(o: MissedCallOptions = {}): Promise<SippRun> {
    const caller = o.caller ?? NGN_LAB.callerNumber;
    const role = `missed-${++this.runs}`;
    const values = { from_uri: `<sip:${caller}@${this.line.domain}>`, ring_wait_ms: o.ringWaitMs ?? 10_000, ring_ms: o.ringMs ?? 1000 };
    const file = writeScenario(SCENARIOS, "inbound-cancel", this.dir, values, `-${this.runs}`);
    return this.runUac(role, file, o.called ?? this.line.mainNumber, this.gwContact(o.gw), caller, Math.ceil((values.ring_wait_ms + values.ring_ms) / 1000) + 10);
  }

  /** The NGN calls the line and expects the gateway to refuse with `status` at once (ACKed). */
  async placeRejectedCall(o: RejectedCallOptions): Promise<SippRun> {
    const caller = o.caller ?? NGN_LAB.callerNumber;
    const role = `rejected-${++this.runs}`;
    const values = { from_uri: `<sip:${caller}@${this.line.domain}>`, pai: true, status: o.status, answer_wait_ms: o.answerWaitMs ?? 5000 };
    const file = writeScenario(SCENARIOS, "inbound-reject", this.dir, values, `-${this.runs}`);
    return this.runUac(role, file, o.called ?? this.line.mainNumber, this.gwContact(o.gw), caller, Math.ceil(values.answer_wait_ms / 1000) + 10);
  }

  // ---- whole emulator ------------------------------------------------------------------

  async start(): Promise<void> {
    const ngn = this.lab.addHost(NGN_LAB.host);
    void ngn;
    const [s0, s1] = NGN_LAB.subnets;
    this.lab.link(
      { host: NGN_LAB.host, ifname: NGN_LAB.accessIf, addr: `${s0.peer}/${s0.prefixLen}` },
      { host: this.opts.wanHost, ifname: this.opts.wanIf ?? NGN_LAB.wanIf, addr: null, mac: this.opts.wanMac ?? NGN_LAB.wanMac },
    );
    // The second /30 lives on the same link, for changeLease().
    this.lab.exec(NGN_LAB.host, "ip", ["addr", "add", `${s1.peer}/${s1.prefixLen}`, "dev", NGN_LAB.accessIf]);
    for (const a of [NGN_LAB.pcscf, NGN_LAB.media]) this.lab.exec(NGN_LAB.host, "ip", ["addr", "add", `${a}/32`, "dev", "lo"]);
    await this.capture.start();
    await this.startDhcp();
    await this.startPcscf();
    if (this.opts.outbound !== false) await this.startOutbound(this.opts.outbound ?? {});
  }

  /**
   * Delete the run's files (configs, SIPp traces, the capture). Kept when NGN_KEEP_FILES=1, to
   * read a failed run afterwards; the path is in `dir`.
   */
  removeFiles(): void {
    if (process.env.NGN_KEEP_FILES === "1") return;
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Stop every process of the emulator and close the capture (the namespace stays to lab.destroy()). */
  async stop(): Promise<void> {
    await this.stopOutbound();
    await this.stopPcscf();
    await this.stopDhcp();
    await this.capture.stop();
  }
}

/** Build and start the emulator. The caller keeps `lab` and destroys it at the end. */
export async function startNgn(lab: Lab, opts: NgnOptions): Promise<Ngn> {
  const ngn = new Ngn(lab, opts);
  try {
    await ngn.start();
  } catch (e) {
    await ngn.stop().catch(() => undefined);
    throw e;
  }
  return ngn;
}

async function stopChild(c: ChildProcess | null, signal: NodeJS.Signals): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    // A process that ignores SIGTERM (a loaded machine) is killed, and waited for: the next
    // one (dnsmasq after changeLease) must not start while it still holds its sockets.
    const t = setTimeout(() => {
      c.kill("SIGKILL");
      setTimeout(resolve, 2000).unref();
    }, 3000);
    c.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    c.kill(signal);
  });
}

/** Poll (bounded: 5 s) until something listens on the UDP port inside the NGN host. */
async function waitForUdpPort(lab: Lab, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const out = lab.exec(NGN_LAB.host, "ss", ["-Hulnp", `sport = :${port}`]);
    if (out.trim().length > 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on UDP ${port} in the NGN host`);
}
