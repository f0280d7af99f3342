/**
 * `npm run bench:idle [-- OPTIONS]`: what the idle gateway holds in memory, and what of it is
 * Node's own. Cheap and repeatable (no root, no network lab, ~20 s a run): it starts the built
 * gateway (dist/cli.js) on the bundled demo config (config/default.yaml, what `npm start` runs;
 * its state directory and ports moved to a temporary directory and free ports, media.offload none), launched exactly
 * as the systemd unit launches it (bench/unit-launch.ts: the unit's node flags and environment),
 * waits for "hikari-gw ready", and samples /proc/PID at fixed times after it; beside it, in the
 * same run, a bare `node -e "setInterval(() => {}, 1000)"` with the same flags and environment.
 * It prints, per sample time, the median (and range) over the runs of:
 *  - VmRSS, RssAnon, RssFile, RssShmem and Threads (/proc/PID/status), Pss and Private_Dirty
 *    (/proc/PID/smaps_rollup);
 *  - RSS by mapping (/proc/PID/smaps): the node executable's pages (file-backed, clean), other
 *    files (libraries, native addons), anonymous memory (V8's heap, malloc, stacks);
 *  - V8's heap after the last sample, before and after a full GC (`hikari-gw status --json --gc`;
 *    the gateway gets --expose-gc for that, a flag that costs nothing until gc() is called),
 *    and RSS once more after that GC.
 * The difference gateway − bare node is what the gateway itself adds.
 *
 * Options: --runs N (3), --at S,S… seconds after ready (5,15: V8's memory reducer may shrink
 * the heap ~8 s after start-up's last full GC, so the two tell its effect), --no-mqtt (mqtt.server
 * none, as bench:pi's config: no embedded broker), --trunk (trunk.enabled on a WAN interface that
 * does not exist: the trunk's and DHCP client's modules load, the trunk fails; bench:pi has the real
 * one), --node PATH (another node binary, e.g. Node 24 as the Pi image ships), --cli PATH (another
 * build's dist/cli.js, e.g. main's, to compare before and after in one session), --node-flags "…"
 * (added after the unit's), --no-unit (without the unit's flags and environment, to compare),
 * --no-build, --json (the raw samples as JSON on stdout).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { queryStatus } from "../src/control.js";
import { unitLaunch } from "./unit-launch.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

interface Options {
  runs: number;
  at: number[];
  noMqtt: boolean;
  trunk: boolean;
  node: string;
  cli: string;
  extraFlags: string[];
  unit: boolean;
  build: boolean;
  json: boolean;
}

function options(argv: string[]): Options {
  const o: Options = { runs: 3, at: [5, 15], noMqtt: false, trunk: false, node: process.execPath, cli: join(ROOT, "dist", "cli.js"), extraFlags: [], unit: true, build: true, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--runs") o.runs = Number(value());
    else if (a === "--at") o.at = value().split(",").map(Number);
    else if (a === "--no-mqtt") o.noMqtt = true;
    else if (a === "--trunk") o.trunk = true;
    else if (a === "--node") o.node = value();
    else if (a === "--cli") o.cli = value();
    else if (a === "--node-flags") o.extraFlags = value().split(/\s+/).filter(Boolean);
    else if (a === "--no-unit") o.unit = false;
    else if (a === "--no-build") o.build = false;
    else if (a === "--json") o.json = true;
    else if (a !== "--") throw new Error(`unknown option ${a}`);
  }
  if (!Number.isInteger(o.runs) || o.runs < 1 || o.runs > 20) throw new Error("--runs: 1 to 20");
  if (o.at.length === 0 || o.at.some((s) => !(s >= 1 && s <= 120))) throw new Error("--at: seconds from 1 to 120, comma-separated");
  o.at.sort((a, b) => a - b);
  return o;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => console.error(`[bench:idle] ${msg}`);

// ---- /proc -------------------------------------------------------------------------------

/** Figures in kB (Threads: a count). */
export interface Sample {
  VmRSS: number;
  RssAnon: number;
  RssFile: number;
  RssShmem: number;
  Threads: number;
  Pss: number;
  Private_Dirty: number;
  /** RSS of the node executable's mappings. */
  nodeBinary: number;
  /** RSS of every other file mapping (shared libraries, native addons). */
  otherFiles: number;
  /** RSS of anonymous mappings ([heap], [stack], V8's pages, malloc arenas, thread stacks). */
  anon: number;
}

function fields(text: string, names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = Number(new RegExp(`^${n}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? NaN);
  return out;
}

function sample(pid: number, nodeExe: string): Sample {
  const status = fields(readFileSync(`/proc/${pid}/status`, "utf8"), ["VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"]);
  const rollup = fields(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"), ["Pss", "Private_Dirty"]);
  let nodeBinary = 0;
  let otherFiles = 0;
  let anon = 0;
  let name = "";
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      // inode 0: anonymous (or [heap], [stack], [vdso]…); otherwise the file's path.
      name = head[1] === "0" ? "" : head[2]!;
      continue;
    }
    const rss = /^Rss:\s+(\d+)/.exec(line);
    if (!rss) continue;
    const kb = Number(rss[1]);
    if (name === "") anon += kb;
    else if (name === nodeExe) nodeBinary += kb;
    else otherFiles += kb;
  }
  return { ...(status as Pick<Sample, "VmRSS" | "RssAnon" | "RssFile" | "RssShmem" | "Threads">), ...(rollup as Pick<Sample, "Pss" | "Private_Dirty">), nodeBinary, otherFiles, anon };
}

// ---- the two processes ---------------------------------------------------------------------

/** A port free for UDP and TCP on 127.0.0.1 (the SIP listener is UDP; provisioning and MQTT TCP). */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 9000);
    const tcpOk = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    const udpOk = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket("udp4");
      s.once("error", () => resolve(false));
      s.bind(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (tcpOk && udpOk) return port;
  }
  throw new Error("no free port found in 50 tries");
}

/** config/default.yaml with the state directory and every port moved; the rest as shipped. */
async function demoConfig(dir: string, o: Options): Promise<string> {
  const cfg = parse(readFileSync(join(ROOT, "config", "default.yaml"), "utf8")) as Record<string, Record<string, unknown>> & { state_dir: string };
  cfg.state_dir = join(dir, "state");
  cfg.lan!.port = await freePort();
  cfg.vpn = { ...(cfg.vpn ?? {}), provision_port: await freePort() };
  const rtp = 30000 + 2 * Math.floor(Math.random() * 4000);
  // offload none: the userspace relay, as bench:pi measures it, and this host's nftables untouched.
  cfg.media = { ...(cfg.media ?? {}), rtp_ports: `${rtp}-${rtp + 199}`, offload: "none" };
  if (o.noMqtt) cfg.mqtt = { server: "none" };
  else cfg.mqtt = { ...(cfg.mqtt ?? {}), port: await freePort() };
  // An interface that does not exist: the trunk and the DHCP client load and fail (no lease, so
  // no WAN guard rules either; guard none all the same, this host's nftables stay untouched).
  if (o.trunk) {
    cfg.wan = { ...(cfg.wan ?? {}), interface: "hgw-no-such-if0", guard: "none" };
    cfg.trunk = { ...(cfg.trunk ?? {}), enabled: true };
  }
  const file = join(dir, "config.yaml");
  writeFileSync(file, stringify(cfg));
  return file;
}

function start(o: Options, launch: { flags: string[]; env: Record<string, string> }, args: string[]): { child: ChildProcess; out: string[] } {
  const child = spawn(o.node, [...launch.flags, ...args], { cwd: ROOT, env: { ...process.env, ...launch.env }, stdio: ["ignore", "pipe", "pipe"] });
  const out: string[] = [];
  const keep = (d: Buffer) => {
    out.push(d.toString());
    if (out.length > 200) out.splice(0, 100);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  return { child, out };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

interface GcFigures {
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
}

interface Run {
  readyS: number;
  gateway: Sample[];
  bare: Sample[];
  heap: GcFigures;
  heapAfterGc: GcFigures & { gc: boolean };
  afterGc: Sample;
}

function heapFigures(status: unknown): GcFigures & { gc: boolean } {
  const p = (status as { process: { heap_used_bytes: number; heap_total_bytes: number; external_bytes: number; gc: boolean } }).process;
  const mb = (b: number) => b / 1048576;
  return { heapUsedMb: mb(p.heap_used_bytes), heapTotalMb: mb(p.heap_total_bytes), externalMb: mb(p.external_bytes), gc: p.gc };
}

async function oneRun(o: Options, launch: { flags: string[]; env: Record<string, string> }, nodeExe: string): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), "hgw-bench-idle-"));
  let gw: ReturnType<typeof start> | undefined;
  let bare: ReturnType<typeof start> | undefined;
  try {
    const cfg = await demoConfig(dir, o);
    const t0 = performance.now();
    gw = start(o, { flags: [...launch.flags, "--expose-gc"], env: launch.env }, [o.cli, "run", "--config", cfg]);
    const g = gw;
    const deadline = Date.now() + 30_000;
    while (!g.out.join("").includes('"hikari-gw ready"')) {
      if (g.child.exitCode !== null || g.child.signalCode !== null) throw new Error(`the gateway exited (${g.child.exitCode ?? g.child.signalCode}): ${g.out.join("").slice(-600)}`);
      if (Date.now() > deadline) throw new Error(`no "hikari-gw ready" within 30 s: ${g.out.join("").slice(-600)}`);
      await sleep(20);
    }
    const readyAt = performance.now();
    // The baseline from now on, so both idle through the same seconds of this machine's load.
    bare = start(o, launch, ["-e", "setInterval(() => {}, 1000)"]);
    const gSamples: Sample[] = [];
    const bSamples: Sample[] = [];
    for (const s of o.at) {
      await sleep(Math.max(0, readyAt + s * 1000 - performance.now()));
      gSamples.push(sample(g.child.pid!, nodeExe));
      bSamples.push(sample(bare.child.pid!, nodeExe));
    }
    const stateDir = join(dir, "state");
    const heap = heapFigures(await queryStatus(stateDir, 5000));
    const heapAfterGc = heapFigures(await queryStatus(stateDir, 5000, { gc: true }));
    await sleep(500);
    const afterGc = sample(g.child.pid!, nodeExe);
    return { readyS: (readyAt - t0) / 1000, gateway: gSamples, bare: bSamples, heap, heapAfterGc, afterGc };
  } finally {
    if (bare) await stop(bare.child);
    if (gw) await stop(gw.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- report --------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** kB figures as "median MB (min–max)"; a single run without the range. */
const mb = (kbs: number[]) => {
  const f = (kb: number) => (kb / 1024).toFixed(1);
  const lo = Math.min(...kbs);
  const hi = Math.max(...kbs);
  return kbs.length > 1 && hi - lo >= 52 ? `${f(median(kbs))} (${f(lo)}–${f(hi)})` : f(median(kbs));
};
const num = (xs: number[]) => (xs.length > 1 && Math.min(...xs) !== Math.max(...xs) ? `${median(xs)} (${Math.min(...xs)}–${Math.max(...xs)})` : String(median(xs)));

const ROWS: [keyof Sample, string][] = [
  ["VmRSS", "VmRSS"],
  ["RssAnon", "RssAnon"],
  ["RssFile", "RssFile"],
  ["RssShmem", "RssShmem"],
  ["Pss", "Pss (smaps_rollup)"],
  ["Private_Dirty", "Private_Dirty (smaps_rollup)"],
  ["nodeBinary", "RSS of the node executable (file)"],
  ["otherFiles", "RSS of other files (libraries, addons)"],
  ["anon", "RSS of anonymous mappings"],
];

function report(o: Options, launchText: string, runs: Run[]): void {
  const version = execFileSync(o.node, ["--version"], { encoding: "utf8" }).trim();
  const profile = [o.noMqtt ? "mqtt.server none" : "embedded MQTT broker", o.trunk ? "trunk enabled (no WAN interface: fails)" : "trunk disabled"].join(", ");
  console.log(`\nbench:idle — ${o.cli}, config/default.yaml (${profile}), node ${version}, launched as: ${launchText}; ${runs.length} run(s), ${new Date().toISOString()}`);
  console.log(`ready after launch: ${runs.map((r) => r.readyS.toFixed(2)).join(", ")} s. Figures in MB: median (min–max) over the runs.\n`);
  for (let i = 0; i < o.at.length; i++) {
    console.log(`| ${o.at[i]} s after ready | hikari-gw | bare node | hikari-gw − bare |`);
    console.log("|---|---|---|---|");
    for (const [key, label] of ROWS) {
      const g = runs.map((r) => r.gateway[i]![key]);
      const b = runs.map((r) => r.bare[i]![key]);
      console.log(`| ${label} | ${mb(g)} | ${mb(b)} | ${mb(runs.map((r) => r.gateway[i]![key] - r.bare[i]![key]))} |`);
    }
    console.log(`| Threads | ${num(runs.map((r) => r.gateway[i]!.Threads))} | ${num(runs.map((r) => r.bare[i]!.Threads))} | |`);
    console.log("");
  }
  const f = (xs: number[]) => mb(xs.map((x) => x * 1024));
  console.log(`V8 heap after the last sample: used ${f(runs.map((r) => r.heap.heapUsedMb))}, total ${f(runs.map((r) => r.heap.heapTotalMb))}, external ${f(runs.map((r) => r.heap.externalMb))}`);
  const gcRan = runs.every((r) => r.heapAfterGc.gc);
  console.log(`after a full GC${gcRan ? "" : " (NOT run: no --expose-gc)"}: heap used ${f(runs.map((r) => r.heapAfterGc.heapUsedMb))}, total ${f(runs.map((r) => r.heapAfterGc.heapTotalMb))}; VmRSS ${mb(runs.map((r) => r.afterGc.VmRSS))}, RssAnon ${mb(runs.map((r) => r.afterGc.RssAnon))}`);
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  if (o.build) {
    log("npm run build");
    execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  }
  const unit = o.unit ? unitLaunch() : { nodeFlags: [], env: {}, describe: "node (no unit flags)" };
  const launch = { flags: [...unit.nodeFlags, ...o.extraFlags], env: unit.env };
  const launchText = [unit.describe, ...o.extraFlags].join(" ") + (o.unit ? " (systemd/hikari-gw.service)" : "");
  log(`gateway and bare node launched as: ${launchText}`);
  const nodeExe = realpathSync(o.node);
  const runs: Run[] = [];
  for (let i = 0; i < o.runs; i++) {
    const r = await oneRun(o, launch, nodeExe);
    log(`run ${i + 1}/${o.runs}: ready ${r.readyS.toFixed(2)} s, VmRSS ${o.at.map((s, j) => `${(r.gateway[j]!.VmRSS / 1024).toFixed(1)} MB at ${s} s`).join(", ")} (bare node ${(r.bare[0]!.VmRSS / 1024).toFixed(1)} MB)`);
    runs.push(r);
  }
  if (o.json) console.log(JSON.stringify({ node: o.node, launch, options: o, runs }, null, 2));
  else report(o, launchText, runs);
}

main().catch((e: unknown) => {
  console.error(`bench:idle failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
