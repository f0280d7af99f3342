/**
 * Kernel fast path with nftables (`media.offload: nftables`): once a session's peers are
 * latched, per-flow DNAT + SNAT rules make the kernel forward the stream (conntrack NAT), so
 * the process is no longer woken per packet. Everything lives in a table of our own,
 * `ip hikari_gw`, deleted and re-created at start-up so a crash leaves no stale rule behind.
 *
 *   raw (prerouting/output, priority raw): our ports are `notrack` unless offloaded. Without
 *     it, the conntrack entry made while userspace relayed the first packets would keep
 *     delivering them to our socket: NAT is decided once per conntrack entry. It also keeps
 *     conntrack off the userspace path, and once a port leaves the set, a stale NAT'ed entry
 *     can no longer be used.
 *   nat (prerouting + output for local peers): `udp dport vmap @dnat_ports` jumps to the flow's
 *     chain f<port>: `ip saddr SRC udp sport P ct mark set <port> dnat to DST`. Only the
 *     latched source matches; anything else still reaches our socket and is dropped there.
 *   nat postrouting: `ct mark vmap @snat_marks` → s<port>: `snat to GW:<out port>`, so each
 *     phone sees the port it sends to as the source (symmetric RTP), as in userspace.
 * The reverse direction needs no lookup of its own when the forward one came first: it is the
 * conntrack reply. Both directions get rules because either phone may send first.
 *   counters (raw, so before DNAT and for every packet, not just a connection's first): a named
 *     counter c<port> per offloaded flow, reached through the objref map `counts` keyed by
 *     port . latched source address . port, so a stray source cannot keep a dead call alive.
 *     The media timeout reads them all with one `nft -j list counters` per poll.
 *   zones (raw, before conntrack): every install puts its ports in a conntrack zone of its own
 *     (`ct zone set udp dport map @zones`, a new zone per install). NAT is decided once per
 *     conntrack entry and an assured UDP entry lives ~2 min: without zones, a session taken
 *     back to userspace (a peer moved) and offloaded again would find its old entry and DNAT
 *     to the old peer, and the new one's entry would clash with it and be dropped. The same
 *     holds for a released session's ports reused by the next call. Old zones' entries are
 *     never looked up again and expire.
 * Routing between two interfaces needs net.ipv4.ip_forward=1 (logged, not changed by us).
 */
import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { Logger } from "../log.js";
import type { MediaOffload, OffloadFlow } from "./offload.js";

export const NFT_TABLE = "hikari_gw";
const NFT_TIMEOUT_MS = 5000;

export type NftRunner = (script: string) => Promise<void>;

/** Runs `nft -f -` with the script on stdin. Rejects with nft's stderr. */
export const runNft: NftRunner = (script) =>
  new Promise((resolve, reject) => {
    const child = spawn("nft", ["-f", "-"], { stdio: ["pipe", "ignore", "pipe"], timeout: NFT_TIMEOUT_MS });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`nft exited ${code}: ${err.trim().slice(0, 500)}`))));
    child.stdin.end(script);
  });

/** Runs `nft ARGS` and resolves with its stdout (the counter poll). */
export type NftReader = (args: string[]) => Promise<string>;

export const readNft: NftReader = (args) =>
  new Promise((resolve, reject) => {
    execFile("nft", args, { timeout: NFT_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`nft ${args.join(" ")}: ${String(stderr).trim().slice(0, 500) || err.message}`));
      else resolve(stdout);
    });
  });

export interface NftOffloadOptions {
  gwAddress: string;
  portMin: number;
  portMax: number;
  log: Logger;
  run?: NftRunner;
  read?: NftReader;
  /** Tests: net.ipv4.ip_forward instead of procfs's (undefined = unknown). */
  ipForward?: () => boolean | undefined;
}

/** Count a packet on its flow's named counter, if port and source are an offloaded flow's. */
const COUNT = "counter name udp dport . ip saddr . udp sport map @counts";
/** The install's conntrack zone for an offloaded port (both directions of a flow share it). */
const ZONE = "ct zone set udp dport map @zones";
/** Conntrack zones are 16 bits; 0 is the default zone, left to everything else. */
const ZONE_MAX = 65535;

/** The table skeleton; exported for the unit test. */
export function tableScript(gwAddress: string, portMin: number, portMax: number): string {
  const T = `ip ${NFT_TABLE}`;
  const any = gwAddress === "0.0.0.0";
  const toUs = any ? "fib daddr type local" : `ip daddr ${gwAddress}`;
  const fromUs = any ? "fib saddr type local" : `ip saddr ${gwAddress}`;
  const range = `${portMin}-${portMax}`;
  return [
    `table ${T} {}`,
    `delete table ${T}`,
    `table ${T} {`,
    `  set offloaded { type inet_service; }`,
    `  map dnat_ports { type inet_service : verdict; }`,
    `  map snat_marks { type mark : verdict; }`,
    `  map counts { type inet_service . ipv4_addr . inet_service : counter; }`,
    `  map zones { typeof udp dport : ct zone; }`,
    `  chain raw_pre { type filter hook prerouting priority raw; policy accept;`,
    `    ${toUs} udp dport @offloaded ${COUNT}`,
    `    ${toUs} udp dport @offloaded ${ZONE}`,
    `    ${toUs} udp dport ${range} udp dport != @offloaded notrack`,
    `  }`,
    `  chain raw_out { type filter hook output priority raw; policy accept;`,
    `    ${toUs} udp dport @offloaded ${COUNT}`,
    `    ${toUs} udp dport @offloaded ${ZONE}`,
    `    ${toUs} udp dport ${range} udp dport != @offloaded notrack`,
    `    ${fromUs} udp sport ${range} notrack`,
    `  }`,
    `  chain nat_pre { type nat hook prerouting priority dstnat; policy accept;`,
    `    ${toUs} udp dport vmap @dnat_ports`,
    `  }`,
    `  chain nat_out { type nat hook output priority -100; policy accept;`,
    `    ${toUs} udp dport vmap @dnat_ports`,
    `  }`,
    `  chain nat_post { type nat hook postrouting priority srcnat; policy accept;`,
    `    ct mark vmap @snat_marks`,
    `  }`,
    `}`,
    "",
  ].join("\n");
}

/** `zone`: this install's conntrack zone (1..65535), fresh per install (see the header). */
export function addScript(gwAddress: string, flows: OffloadFlow[], zone: number): string {
  const T = `ip ${NFT_TABLE}`;
  const lines: string[] = [];
  for (const f of flows) {
    const p = f.inPort;
    const snat = gwAddress === "0.0.0.0" ? `masquerade to :${f.outPort}` : `snat to ${gwAddress}:${f.outPort}`;
    lines.push(
      `add chain ${T} f${p}`,
      `add rule ${T} f${p} ip saddr ${f.src.address} udp sport ${f.src.port} ct mark set ${p} dnat to ${f.dst.address}:${f.dst.port}`,
      `add chain ${T} s${p}`,
      `add rule ${T} s${p} meta l4proto udp ${snat}`,
      `add element ${T} snat_marks { ${p} : jump s${p} }`,
      `add element ${T} dnat_ports { ${p} : jump f${p} }`,
      `add counter ${T} c${p}`,
      `add element ${T} counts { ${p} . ${f.src.address} . ${f.src.port} : "c${p}" }`,
      `add element ${T} zones { ${p} : ${zone} }`,
      // Last: until the port is in the set, its packets stay untracked and in userspace.
      `add element ${T} offloaded { ${p} }`,
    );
  }
  return lines.join("\n") + "\n";
}

export function removeScript(flows: OffloadFlow[]): string {
  const T = `ip ${NFT_TABLE}`;
  const lines: string[] = [];
  for (const f of flows) {
    const p = f.inPort;
    lines.push(
      // First: the port's packets go back to notrack + userspace at once.
      `delete element ${T} offloaded { ${p} }`,
      `delete element ${T} counts { ${p} . ${f.src.address} . ${f.src.port} }`,
      `delete counter ${T} c${p}`,
      `delete element ${T} zones { ${p} }`,
      `delete element ${T} dnat_ports { ${p} }`,
      `delete element ${T} snat_marks { ${p} }`,
      `flush chain ${T} f${p}`,
      `delete chain ${T} f${p}`,
      `flush chain ${T} s${p}`,
      `delete chain ${T} s${p}`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Coalesces scripts issued in the same turn into one `nft -f` run: nft loads its whole ruleset
 * cache on every start, so one process per session costs O(sessions) each, and hundreds of
 * sessions latching together would fork hundreds of nft. A failed batch is retried script by
 * script, so one bad session cannot fail the others.
 */
export class NftBatcher {
  private queue: { script: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  private running: Promise<void> | null = null;

  constructor(private readonly run: NftRunner) {}

  submit(script: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ script, resolve, reject });
      if (!this.running) this.running = this.drain();
    });
  }

  private async drain(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    for (let guard = 0; guard < 1_000_000 && this.queue.length > 0; guard++) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.run(batch.map((b) => b.script).join(""));
        for (const b of batch) b.resolve();
      } catch (err) {
        if (batch.length === 1) batch[0]!.reject(err as Error);
        else
          for (const b of batch) {
            await this.run(b.script).then(b.resolve, b.reject);
          }
      }
    }
    this.running = null;
  }
}

export class NftOffload implements MediaOffload {
  readonly name = "nftables";
  private readonly installed = new Map<number, OffloadFlow[]>();
  private readonly batch: NftBatcher;
  /** The last conntrack zone handed out; one per install, wrapping after 65535. */
  private zone = 0;

  private constructor(
    private readonly gwAddress: string,
    private readonly run: NftRunner,
    private readonly read: NftReader,
    private readonly log: Logger,
  ) {
    this.batch = new NftBatcher(run);
  }

  /**
   * Flushes (re-creates) our table; null, with a log line, when nft is missing or refuses.
   * `media.offload: nftables`: the operator asked for the kernel, so a refusal is a warning.
   */
  static async start(opts: NftOffloadOptions): Promise<NftOffload | null> {
    const r = await NftOffload.probe(opts);
    if (typeof r === "string") {
      opts.log.child({ module: "media.offload" }).warn({ reason: r }, "nftables offload unavailable: userspace relay");
      return null;
    }
    return r;
  }

  /**
   * The start-up probe (`media.offload: auto` and `nftables`): creating our own table is the
   * one test that answers every question at once (nft installed, CAP_NET_ADMIN in this network
   * namespace, nf_tables in the kernel). Resolves with the offload, or with why not (no log
   * line: the caller writes the one line the operator sees). With `requireForwarding`, a
   * host that does not route (net.ipv4.ip_forward 0) is a reason too: offloaded media is
   * forwarded by the kernel, so every packet to a peer on another host would be dropped.
   */
  static async probe(opts: NftOffloadOptions & { requireForwarding?: boolean }): Promise<NftOffload | string> {
    const log = opts.log.child({ module: "media.offload" });
    if (isIP(opts.gwAddress) !== 4) return `the relay listens on ${opts.gwAddress}: the nftables offload supports IPv4 only`;
    const forwarding = (opts.ipForward ?? ipForwarding)();
    if (opts.requireForwarding && forwarding === false) return "net.ipv4.ip_forward is 0: the kernel would not forward offloaded media (sysctl -w net.ipv4.ip_forward=1 enables it)";
    const run = opts.run ?? runNft;
    try {
      await run(tableScript(opts.gwAddress, opts.portMin, opts.portMax));
    } catch (err) {
      return nftRefusal(err as NodeJS.ErrnoException);
    }
    if (forwarding === false) log.warn("net.ipv4.ip_forward is 0: offloaded media can only reach peers on this host");
    log.info({ table: `ip ${NFT_TABLE}` }, "nftables offload ready (table flushed)");
    return new NftOffload(opts.gwAddress, run, opts.read ?? readNft, log);
  }

  async add(key: number, flows: OffloadFlow[]): Promise<boolean> {
    if (this.installed.has(key)) return true;
    if (flows.some((f) => isIP(f.src.address) !== 4 || isIP(f.dst.address) !== 4)) return false;
    try {
      this.zone = (this.zone % ZONE_MAX) + 1;
      await this.batch.submit(addScript(this.gwAddress, flows, this.zone));
    } catch (err) {
      this.log.warn({ key, err: (err as Error).message }, "nft add failed: session stays in userspace");
      // Whatever part got in must not linger.
      await this.batch.submit(removeScript(flows)).catch(() => undefined);
      return false;
    }
    this.installed.set(key, flows);
    return true;
  }

  async remove(key: number, reason: string): Promise<void> {
    const flows = this.installed.get(key);
    if (!flows) return;
    this.installed.delete(key);
    await this.batch.submit(removeScript(flows));
    this.log.debug({ key, reason }, "offload removed");
  }

  /**
   * Every offloaded flow's kernel packet count, keyed by its in-port: ONE nft run for all
   * sessions (nft loads its ruleset cache per run, so one run per session would cost
   * O(sessions²) per poll).
   */
  async packets(): Promise<Map<number, number>> {
    return parseCounters(await this.read(["-j", "list", "counters", "table", "ip", NFT_TABLE]));
  }

  get size(): number {
    return this.installed.size;
  }

  async close(): Promise<void> {
    this.installed.clear();
    await this.run(`table ip ${NFT_TABLE} {}\ndelete table ip ${NFT_TABLE}\n`).catch((err: Error) => this.log.warn({ err: err.message }, "nft table removal failed"));
  }
}

/** net.ipv4.ip_forward as a boolean; undefined without procfs (then nothing is assumed). */
function ipForwarding(): boolean | undefined {
  try {
    return readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim() === "1";
  } catch {
    return undefined;
  }
}

/** Why nft refused to create our table, in the operator's terms (the probe's log line). */
export function nftRefusal(err: NodeJS.ErrnoException): string {
  if (err.code === "ENOENT") return "nft is not installed (Debian: apt-get install nftables)";
  const msg = err.message;
  if (/Operation not permitted|Permission denied/i.test(msg)) return `no CAP_NET_ADMIN (nft: ${msg})`;
  return `nft refused the relay's table: ${msg}`;
}

/** `nft -j list counters` output → in-port → packets, for our c<port> counters only. */
export function parseCounters(json: string): Map<number, number> {
  const out = new Map<number, number>();
  const doc = JSON.parse(json) as { nftables?: { counter?: { name?: unknown; packets?: unknown } }[] };
  for (const item of doc.nftables ?? []) {
    const c = item.counter;
    if (!c || typeof c.name !== "string" || typeof c.packets !== "number") continue;
    const m = /^c(\d+)$/.exec(c.name);
    if (m) out.set(Number(m[1]), c.packets);
  }
  return out;
}
