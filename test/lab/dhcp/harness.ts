/**
 * Shared pieces of the DHCP lab: the topology and its bring-up and teardown (DhcpLab), the
 * NGN-style server options, a real server's process (dnsmasq, kea-dhcp4: each lab file says how
 * to start its own) and the client run from dist/ as a child process.
 *
 *   [srv] lan1 198.18.1.1/24 ──veth── wan0 (no address) [cli] lan0 198.18.9.1/24 ──veth── eth0 198.18.9.2/24 [lan]
 *
 * The client namespace has a second, addressed interface on purpose: that is the case in
 * which a plain socket would send the DISCOVER from the LAN's address.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildDist } from "../build.js";
import { Lab } from "../netns.js";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const STANDALONE = `${ROOT}dist/dhcp/standalone.js`;
export const CLI = `${ROOT}dist/cli.js`;
export const CLIENT_MAC = "02:00:00:00:00:01";

/** dist/ is built by `npm run test:lab`; build it here when a lab file runs alone. */
export function ensureBuilt(): void {
  if (existsSync(STANDALONE)) return;
  buildDist();
  if (!existsSync(STANDALONE)) throw new Error(`${STANDALONE} missing: run npm run build`);
}

export function buildTopology(prefix: string): Lab {
  const lab = new Lab(prefix);
  lab.addHost("srv");
  lab.addHost("cli");
  lab.addHost("lan");
  lab.link({ host: "srv", ifname: "lan1", addr: "198.18.1.1/24" }, { host: "cli", ifname: "wan0", addr: null, mac: CLIENT_MAC });
  lab.link({ host: "cli", ifname: "lan0", addr: "198.18.9.1/24" }, { host: "lan", ifname: "eth0", addr: "198.18.9.2/24" });
  // Like a Pi: the default route goes out the LAN, and systemd's loose reverse-path filter
  // is on for every interface (the client must cope with both).
  lab.exec("cli", "ip", ["route", "add", "default", "via", "198.18.9.2", "dev", "lan0"]);
  lab.exec("cli", "sysctl", ["-qw", "net.ipv4.conf.wan0.rp_filter=2", "net.ipv4.conf.lan0.rp_filter=2"]);
  return lab;
}

/** How a lab file runs its DHCP server in the `srv` host, given the run's work directory. */
export interface DhcpServerRecipe {
  /** Write what the server needs into `dir` (its config file), once, before the first start. */
  prepare?(dir: string): Promise<void>;
  spawn(lab: Lab, dir: string): ChildProcess;
  /** The server's log line that says it is serving, and how long to wait for it. */
  ready: RegExp;
  readyTimeoutMs: number;
}

/**
 * One DHCP lab run: dist/ built, a work directory, the topology (namespaces "hgwdhcp-*": the
 * DHCP lab files run one after another) and the server started. The server can be stopped
 * and started again (a test of the client without it); close() undoes it all.
 */
export class DhcpLab {
  /** The running server's log (a new one after each startServer()). */
  server!: LineLog;
  private serverChild: ChildProcess | undefined;

  private constructor(
    readonly lab: Lab,
    /** The run's work directory: server config and leases, client state. */
    readonly dir: string,
    private readonly recipe: DhcpServerRecipe,
  ) {}

  static async start(o: { dirPrefix: string; server: DhcpServerRecipe }): Promise<DhcpLab> {
    ensureBuilt();
    const dir = await mkdtemp(join(tmpdir(), o.dirPrefix));
    let d: DhcpLab | undefined;
    try {
      await o.server.prepare?.(dir);
      d = new DhcpLab(buildTopology("hgwdhcp"), dir, o.server);
      await d.startServer();
      return d;
    } catch (err) {
      if (d) await d.close();
      else await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async startServer(): Promise<void> {
    this.serverChild = this.recipe.spawn(this.lab, this.dir);
    this.server = new LineLog(this.serverChild);
    await this.server.waitFor(this.recipe.ready, this.recipe.readyTimeoutMs);
  }

  async stopServer(): Promise<void> {
    if (this.serverChild) await stopChild(this.serverChild);
  }

  /** Stop `client` (if started), the server and every process in the namespaces; delete them and the work directory. */
  async close(client?: LabClient): Promise<void> {
    await client?.stop();
    await this.lab.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }
}

function labels(name: string): number[] {
  return [...name.split(".").flatMap((l) => [l.length, ...Buffer.from(l)]), 0];
}

/**
 * Option 125 as the NGN sends it (docs/ngn.md "DHCP"), written out by hand rather than with our own
 * encoder: enterprise 210, sub-options 201 MAC, 202 number, 203 ×2, 204 domain, 210 host.
 */
export function ngnOption125(): Buffer {
  const sub = (code: number, data: number[]) => [code, data.length, ...data];
  const data = [
    ...sub(201, [2, 0, 0, 0, 0, 1]),
    ...sub(202, [...Buffer.from("0312345678")]),
    ...sub(203, [...Buffer.from("0312345679")]),
    ...sub(203, [...Buffer.from("0312345680")]),
    ...sub(204, labels("ntt-east.ne.jp")),
    ...sub(210, labels("fw.ntt-east.ne.jp")),
  ];
  return Buffer.from([0, 0, 0, 210, data.length, ...data]);
}

export const EXPECTED_TRUNK = {
  sip_servers: ["198.18.1.5"],
  domain: "ntt-east.ne.jp",
  number: "0312345678",
  additional_numbers: ["0312345679", "0312345680"],
};

/** Option 121: 198.18.128.0/17 via 198.18.1.1 (RFC 3442 wire form). */
export const ROUTES_121 = Buffer.from([17, 198, 18, 128, 198, 18, 1, 1]);

/** Every line a child prints (stdout and stderr), with waiting from a cursor. */
export class LineLog {
  readonly lines: string[] = [];
  private waiters: (() => void)[] = [];

  constructor(child: ChildProcess) {
    for (const s of [child.stdout, child.stderr]) {
      let buf = "";
      s?.on("data", (d: Buffer) => {
        buf += d.toString();
        const parts = buf.split("\n");
        buf = parts.pop()!;
        this.lines.push(...parts);
        for (const w of this.waiters.splice(0)) w();
      });
    }
  }

  /** Wait for a line matching `test`, looking only at lines from index `from`. */
  async waitFor(test: RegExp | ((l: string) => boolean), timeoutMs: number, from = 0): Promise<{ line: string; index: number }> {
    const match = typeof test === "function" ? test : (l: string) => test.test(l);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.lines.length; i++) if (match(this.lines[i]!)) return { line: this.lines[i]!, index: i };
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout after ${timeoutMs} ms waiting for ${String(test)}; last lines:\n${this.lines.slice(-15).join("\n")}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  count(re: RegExp, from = 0): number {
    return this.lines.slice(from).filter((l) => re.test(l)).length;
  }
}

export interface ClientEvent {
  event: string;
  at: number;
  lease?: { address: string; prefix: number; acquired_at: number; lease_time: number; sip_servers: string[]; routes: unknown[] };
}

/** The DHCP client (dist/dhcp/standalone.js) in the client namespace. */
export class LabClient {
  readonly log: LineLog;
  constructor(readonly child: ChildProcess) {
    this.log = new LineLog(child);
  }

  static start(lab: Lab, args: string[]): LabClient {
    return new LabClient(lab.spawn("cli", "node", [STANDALONE, "wan0", ...args]));
  }

  async event(name: string, timeoutMs: number, from = 0): Promise<ClientEvent & { index: number }> {
    const { line, index } = await this.log.waitFor((l) => l.startsWith(`{"event":"${name}"`), timeoutMs, from);
    return { ...(JSON.parse(line) as ClientEvent), index };
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/** `ip -4 -o addr show dev IF` inside a host, as "a.b.c.d/p" strings. */
export function addresses(lab: Lab, host: string, dev: string): string[] {
  return lab
    .exec(host, "ip", ["-4", "-o", "addr", "show", "dev", dev])
    .split("\n")
    .map((l) => /inet (\S+)/.exec(l)?.[1])
    .filter((a): a is string => !!a);
}

export function rpFilter(lab: Lab, dev: string): string {
  return lab.exec("cli", "sysctl", ["-n", `net.ipv4.conf.${dev}.rp_filter`]).trim();
}

export function routes(lab: Lab, host: string): string {
  return lab.exec(host, "ip", ["-4", "route", "show"]);
}
