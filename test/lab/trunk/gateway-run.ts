/**
 * The built gateway as the trunk lab runs it: nothing configured for the line but
 * `wan.interface` (DHCP brings server, domain and numbers), two extensions, inbound ringing
 * both with the additional number routed to 802 alone. `start()` can be called again after
 * `stop()` with other settings (a second run with DND), and the log lines of every run
 * collect in one array, so the test reads one history.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import type { Lab } from "../netns.js";
import { NGN_LAB } from "../ngn/addresses.js";
import { CLI, REPO } from "../sip/gateway-process.js";
import type { Phone } from "../sip/topology.js";

export interface TrunkGatewayConfig {
  wanIf: string;
  lanAddr: string;
  phones: Phone[];
  stateDir: string;
  /** Inbound calls from the line get 486 (config `pbx.dnd`). */
  dnd?: boolean;
  /** trunk.register_expires (default 60, for a quick refresh); null leaves the gateway's default (3600). */
  registerExpires?: number | null;
  /** media.timeout_s (default 6). */
  mediaTimeoutS?: number;
  /** lan.listen when not lanAddr (e.g. the README's 0.0.0.0); lanAddr is then lan.advertise. */
  lanListen?: string;
  /** Run node with --expose-gc, so `status --gc` measures the heap after a full GC. */
  exposeGc?: boolean;
  /** wan.guard (the gateway's default, nftables, when absent). */
  wanGuard?: "nftables" | "none";
  /** trunk.channels (the gateway's default, 1, when absent). */
  channels?: number;
  /** More top-level YAML (mqtt:, phonebook:, blocklist:), appended as it is. */
  extraYaml?: string;
}

export function trunkGatewayYaml(c: TrunkGatewayConfig): string {
  const ext = c.phones.map((p, i) => `  - { number: "${p.number}", password: "${p.password}", name: Phone${i + 1} }`).join("\n");
  return `wan: { interface: ${c.wanIf}${c.wanGuard ? `, guard: ${c.wanGuard}` : ""} }
trunk: { enabled: true${c.registerExpires === null ? "" : `, register_expires: ${c.registerExpires ?? 60}`}${c.channels ? `, channels: ${c.channels}` : ""} }
lan: { listen: ${c.lanListen ?? c.lanAddr}, port: 5060${c.lanListen ? `, advertise: ${c.lanAddr}` : ""} }
extensions:
${ext}
inbound:
  ring: [${c.phones.map((p) => `"${p.number}"`).join(", ")}]
  numbers: { "${NGN_LAB.additionalNumber}": ["${c.phones[c.phones.length - 1]!.number}"] }
dialplan:
  - { match: "^80[1-9]$", to: extension }
  - { match: "^0[0-9]+$", to: trunk }
pbx: { ring_timeout_s: 15, dnd: ${c.dnd ?? false} }
media: { rtp_ports: "50000-50999", timeout_s: ${c.mediaTimeoutS ?? 6} }
state_dir: ${c.stateDir}
log: { level: info }
${c.extraYaml ?? ""}`;
}

/** The parts of `hikari-gw status` the labs read. */
export interface GatewayStatus {
  trunk: { state: string; last_error?: string };
  extensions: { number: string; registered: boolean; contact?: string }[];
  calls: unknown[];
  media?: { sessions: number };
  sip?: { lan?: Record<string, number>; trunk?: Record<string, number> };
  process?: { rss_bytes: number; heap_used_bytes: number; heap_total_bytes: number; external_bytes: number; array_buffers_bytes: number; gc: boolean; handles: Record<string, number> };
}

export class TrunkGateway {
  /** Every log line of every run, in order. */
  readonly lines: string[] = [];
  readonly cfgFile: string;
  private child: ChildProcess | null = null;

  constructor(
    private readonly lab: Lab,
    private readonly host: string,
    dir: string,
  ) {
    this.cfgFile = join(dir, "gateway.yaml");
  }

  start(cfg: TrunkGatewayConfig): void {
    if (this.child) throw new Error("the gateway is already running");
    writeFileSync(this.cfgFile, trunkGatewayYaml(cfg));
    const child = this.lab.spawn(this.host, process.execPath, [...(cfg.exposeGc ? ["--expose-gc"] : []), CLI, "run", "--config", this.cfgFile], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let partial = "";
    const onData = (d: Buffer) => {
      const parts = (partial + d.toString()).split("\n");
      partial = parts.pop() ?? "";
      this.lines.push(...parts.filter(Boolean));
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    this.child = child;
  }

  /** The running process (undefined between stop() and start()). */
  get process(): ChildProcess | undefined {
    return this.child ?? undefined;
  }

  /**
   * The log lines (of every run) that match, once at least `min` do, waiting up to `timeoutMs`
   * for the gateway's stdout to deliver them (it is read on the test's event loop, so lines
   * the gateway wrote a moment ago may not be in `lines` yet). Resolves with what matched by
   * then, possibly fewer: the caller's expectation says what was missing.
   */
  async waitForLines(match: (line: string) => boolean, timeoutMs: number, min = 1): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.filter(match);
      if (found.length >= min || Date.now() >= deadline) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** `hikari-gw status` of the running gateway (`gc`: a full GC first; needs exposeGc). */
  status(gc = false): GatewayStatus {
    return JSON.parse(this.lab.exec(this.host, process.execPath, [CLI, "status", "--json", "--config", this.cfgFile, ...(gc ? ["--gc"] : [])])) as GatewayStatus;
  }

  /** SIGKILL, no goodbye (a crash or a power cut); waits for the exit. */
  async kill(): Promise<void> {
    const c = this.child;
    this.child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGKILL");
    });
  }

  /** SIGTERM (the gateway unregisters and BYEs its calls), SIGKILL after 10 s; waits for the exit. */
  async stop(): Promise<number | null> {
    const c = this.child;
    this.child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return c?.exitCode ?? null;
    return new Promise((resolve) => {
      const t = setTimeout(() => c.kill("SIGKILL"), 10_000);
      c.once("exit", (code) => {
        clearTimeout(t);
        resolve(code);
      });
      c.kill("SIGTERM");
    });
  }
}
