/**
 * The WireGuard interface the gateway owns: made with iproute2 (kernel WireGuard) or, where
 * the kernel has none, by a `wireguard-go` child kept in the foreground so it dies with us;
 * configured with `wg`. Peers are added and removed live with `wg set`.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import type { Logger } from "../log.js";

const run = promisify(execFile);

export interface WireguardOptions {
  name: string;
  listenPort: number;
  /** The file holding the server's private key (mode 0600). */
  privateKeyFile: string;
  /** "10.8.0.1/24" */
  address: string;
  log: Logger;
}

export interface PeerHandshake {
  public_key: string;
  /** ISO time of the last handshake, or null when there was none. */
  last_handshake: string | null;
}

export class WireguardInterface {
  private userspace?: ChildProcess;
  constructor(private readonly opts: WireguardOptions) {}

  async up(): Promise<void> {
    const { name, log } = this.opts;
    await run("ip", ["link", "del", name]).catch(() => undefined); // a leftover from a crash
    try {
      await run("ip", ["link", "add", name, "type", "wireguard"]);
      log.info({ interface: name }, "wireguard interface made (kernel)");
    } catch {
      await this.startUserspace();
      log.info({ interface: name }, "wireguard interface made (wireguard-go: the kernel has no WireGuard)");
    }
    await run("wg", ["set", name, "listen-port", String(this.opts.listenPort), "private-key", this.opts.privateKeyFile]);
    await run("ip", ["address", "add", this.opts.address, "dev", name]);
    await run("ip", ["link", "set", name, "up"]);
  }

  private async startUserspace(): Promise<void> {
    const { name } = this.opts;
    const child = spawn("wireguard-go", ["-f", name], { stdio: "ignore", env: { ...process.env, LOG_LEVEL: "error" } });
    this.userspace = child;
    const failed = new Promise<never>((_, reject) => {
      child.once("error", (err) => reject(new Error(`wireguard-go: ${err.message}`)));
      child.once("exit", (code) => reject(new Error(`wireguard-go exited (${code}) before making ${name}`)));
    });
    // Bounded: the interface appears within a second on a Pi; give it five.
    for (let i = 0; i < 50; i++) {
      const ok = await Promise.race([run("ip", ["link", "show", name]).then(() => true, () => false), failed]);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill();
    throw new Error(`wireguard-go did not make ${name} within 5 s`);
  }

  async addPeer(publicKey: string, address: string): Promise<void> {
    await run("wg", ["set", this.opts.name, "peer", publicKey, "allowed-ips", `${address}/32`]);
  }

  async removePeer(publicKey: string): Promise<void> {
    await run("wg", ["set", this.opts.name, "peer", publicKey, "remove"]);
  }

  /** Each peer's last handshake (`wg show IF latest-handshakes`: key, epoch seconds). */
  async handshakes(): Promise<PeerHandshake[]> {
    const { stdout } = await run("wg", ["show", this.opts.name, "latest-handshakes"]);
    return parseHandshakes(stdout);
  }

  async down(): Promise<void> {
    await run("ip", ["link", "del", this.opts.name]).catch(() => undefined);
    if (this.userspace && this.userspace.exitCode === null) {
      const child = this.userspace;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    }
  }
}

export function parseHandshakes(text: string): PeerHandshake[] {
  const out: PeerHandshake[] = [];
  for (const line of text.split("\n")) {
    const [key, t] = line.trim().split(/\s+/);
    if (!key || t === undefined) continue;
    const s = Number(t);
    out.push({ public_key: key, last_handshake: s > 0 ? new Date(s * 1000).toISOString() : null });
  }
  return out;
}
