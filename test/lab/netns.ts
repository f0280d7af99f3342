/**
 * A tiny network lab: named namespaces joined by veth pairs, addresses only from
 * 198.18.0.0/15 (RFC 2544) — nothing here can reach a real network. Each suite uses its
 * own name prefix and /24 so suites never collide. Every spawned process is killed and
 * every namespace deleted in `destroy()`, also after a failed test.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";

const LAB_NET = /^198\.1[89]\.\d+\.\d+(\/\d+)?$/;

export class Lab {
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];

  /** @param prefix short unique prefix per suite, e.g. "hgwsip" (namespace names stay < 16 chars) */
  constructor(readonly prefix: string) {}

  ns(name: string): string {
    return `${this.prefix}-${name}`;
  }

  /** Create namespace `<prefix>-<name>` with lo up; removes a stale one first. */
  addHost(name: string): string {
    const ns = this.ns(name);
    try {
      execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    } catch {
      /* not there: fine */
    }
    execFileSync("ip", ["netns", "add", ns]);
    this.namespaces.push(ns);
    this.exec(name, "ip", ["link", "set", "lo", "up"]);
    return ns;
  }

  /**
   * Join two hosts with a veth pair. Addresses are CIDR strings in 198.18.0.0/15, or
   * null to leave an end unaddressed (a DHCP client's WAN port).
   */
  link(a: { host: string; ifname: string; addr: string | null; mac?: string }, b: { host: string; ifname: string; addr: string | null; mac?: string }): void {
    for (const end of [a, b]) if (end.addr !== null && !LAB_NET.test(end.addr)) throw new Error(`lab address outside 198.18.0.0/15: ${end.addr}`);
    const tmpA = `${this.prefix.slice(0, 6)}a${Math.floor(Math.random() * 1e6)}`;
    const tmpB = `${this.prefix.slice(0, 6)}b${Math.floor(Math.random() * 1e6)}`;
    execFileSync("ip", ["link", "add", tmpA, "type", "veth", "peer", "name", tmpB]);
    for (const [tmp, end] of [[tmpA, a], [tmpB, b]] as const) {
      execFileSync("ip", ["link", "set", tmp, "netns", this.ns(end.host)]);
      this.exec(end.host, "ip", ["link", "set", tmp, "name", end.ifname]);
      if (end.mac) this.exec(end.host, "ip", ["link", "set", end.ifname, "address", end.mac]);
      if (end.addr) this.exec(end.host, "ip", ["addr", "add", end.addr, "dev", end.ifname]);
      this.exec(end.host, "ip", ["link", "set", end.ifname, "up"]);
    }
  }

  /** Run a command inside a host and return its stdout. Throws on non-zero exit. */
  exec(host: string, cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): string {
    return execFileSync("ip", ["netns", "exec", this.ns(host), cmd, ...args], {
      encoding: "utf8",
      timeout: opts.timeoutMs ?? 30_000,
      input: opts.input,
      stdio: ["pipe", "pipe", "pipe"],
    });
  }

  /**
   * Like exec, but without blocking the test's event loop while the command runs: whatever
   * the test reads meanwhile (the gateway's log lines from its stdout pipe, an emulator's
   * sockets) keeps flowing. Use it for anything that runs for seconds (a scanner, a flood):
   * under exec the gateway's log lines of that time are only read after the test has already
   * looked at them. Resolves with stdout and stderr whatever the exit code; rejects only when
   * the command could not be started or outlived `timeoutMs` (then it is killed).
   */
  run(host: string, cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = execFile("ip", ["netns", "exec", this.ns(host), cmd, ...args], { encoding: "utf8", timeout: opts.timeoutMs ?? 30_000, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        const e = err as (Error & { code?: unknown; killed?: boolean }) | null;
        if (e && (e.killed || typeof e.code !== "number")) return reject(new Error(`${cmd} in ${host}: ${e.message.split("\n")[0]}\n${stdout}${stderr}`));
        resolve({ code: e ? (e.code as number) : 0, stdout, stderr });
      });
      this.children.push(child);
    });
  }

  /** Start a long-running process inside a host; killed by destroy(). */
  spawn(host: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn("ip", ["netns", "exec", this.ns(host), cmd, ...args], { stdio: ["ignore", "pipe", "pipe"], ...opts });
    this.children.push(child);
    return child;
  }

  async destroy(): Promise<void> {
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
    }
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const t = setTimeout(() => {
              c.kill("SIGKILL");
              resolve();
            }, 2000);
            c.once("exit", () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
    for (const ns of this.namespaces.reverse()) {
      try {
        execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
      } catch {
        /* already gone */
      }
    }
  }
}

/** Collect a child's output lines; resolves when a line matches or rejects on timeout. */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs: number, stream: "stdout" | "stderr" = "stdout"): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const src = child[stream];
    if (!src) return reject(new Error(`no ${stream}`));
    const timer = setTimeout(() => {
      src.off("data", onData);
      reject(new Error(`timeout after ${timeoutMs} ms waiting for ${re}; saw:\n${buf.slice(-2000)}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split("\n");
      for (const l of lines) {
        if (re.test(l)) {
          clearTimeout(timer);
          src.off("data", onData);
          return resolve(l);
        }
      }
    };
    src.on("data", onData);
  });
}
