/**
 * `npm run bench:rtp [-- --quick]`: N bidirectional G.711 calls (2 × 50 packets/s of 172 bytes)
 * through a relay, relay host and load host in two network namespaces joined by a veth
 * (bench/rtp/topology.ts: each side's kernel receive work on its own core), the relay pinned
 * to core 0 (`taskset -c 0`), the C load helper (bench/rtp/load.c, recvmmsg/sendmmsg) on core 1.
 * Systems in the same run (docs/testing.md "Benchmarks": only same-run ratios hold):
 *   plain      bench/rtp/plain-forwarder.mjs: Node dgram, the baseline
 *   hikari     `hikari-gw relay --offload none` (dist/media/relay-main.js), userspace
 *   hikari-fast-send  the same with src/media/fast-send.ts on (HIKARI_RELAY_FAST_SEND=1)
 *   hikari-unconnected  the same with HIKARI_RELAY_CONNECT=0 (every foreign packet counted)
 *   offload    hikari with --offload nftables (DNAT/SNAT per session)
 *   rtpengine  Debian's rtpengine-daemon, userspace (--table=-1), one thread, via its ng protocol
 * Each load step starts a fresh relay with N sessions, warms up (latching; hikari confirms
 * latches 3 s after the first packet), waits until the relay is ready (offload: every session's
 * ports in the nftables set), then tells the load tool (SIGUSR1) to start its measured window
 * and reads CPU over that same window: the relay process's own time and, per core, /proc/stat
 * (offloaded forwarding is softirq on the relay core, in no process's time). A system stops
 * climbing at its first broken step (loss ≥ 0.1 % or p99 > 20 ms).
 *
 * Env: BENCH_LOADS="200,400,600" BENCH_SECONDS=8 BENCH_SYSTEMS="plain,hikari,offload,rtpengine"
 * BENCH_RT=0 (no SCHED_FIFO). hikari-gw's relays run with the systemd unit's node flags and
 * environment (BENCH_NO_UNIT=1: without). A system may be named with extra environment for its relay, as
 * "hikari+GLIBC_TUNABLES=glibc.malloc.mxfast=0" (see variant()). BENCH_BASE_DIST=DIR adds system "hikari-base": the relay of another build
 * (DIR = its dist/, e.g. main's) for a before/after in the same run. Diagnosis: BENCH_RELAY_STDOUT=FILE / BENCH_RELAY_STDERR=FILE keep the
 * relays' output (e.g. NODE_OPTIONS="--import ./probe.mjs", or V8 --trace-* flags in a system's cmd). --quick: loads 200,600,1000, 3 s windows. Needs root (namespaces).
 * BENCH_DIAG=DIR (the tail, issue 16): per step SYSTEM-CALLS.late (the load tool's late packets,
 * LOAD_LATE in load.c), SYSTEM-CALLS.probe.json (bench/rtp/probe.mjs in the relay: loop gaps, GCs,
 * slow timer callbacks) and SYSTEM-CALLS.sched.data (`perf record` of the scheduler on the relay
 * core over the measured window, monotonic clock); `node bench/rtp/diag.mjs DIR` lines them up.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { appendFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { coreTicks, coreUse, processPct, processTicks, type CoreUse } from "./rtp/cpu.js";
import { BenchTopology, LOAD_ADDR, RELAY_ADDR } from "./rtp/topology.js";
import { unitLaunch } from "./unit-launch.js";
import { have } from "../test/lab/env.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const LOAD_BIN = "/tmp/hikari-gw-rtp-load";
const PORTS = "40000-49999";
const LOAD_PORT = 10000;
const quick = process.argv.includes("--quick");
const SECONDS = Number(process.env.BENCH_SECONDS ?? (quick ? 3 : 8));
const LOADS = (process.env.BENCH_LOADS ?? (quick ? "200,600,1000" : "200,300,400,500,600,700,800,1000,1200,1500")).split(",").map(Number);
const READY_TIMEOUT_MS = 60_000;

interface System {
  name: string;
  cmd: string[];
  warmupS: number;
  env?: Record<string, string>;
  /** Calls start at this rate (per second) instead of all at once; the warm-up waits for them. */
  callsPerS?: number;
  /**
   * `chrt --reset-on-fork`: the relay's children run SCHED_OTHER. hikari's offload forks `nft`;
   * a SCHED_FIFO child of a relay saturated by the pre-offload userspace load never runs
   * (equal FIFO priority, RT throttling stops both), so the rules never went in at 1000 calls.
   */
  resetOnFork?: boolean;
  /** Extra readiness check after the warm-up (offload: all rules in). */
  ready?: (topo: BenchTopology, sessions: number) => boolean;
}

const relayMain = join(ROOT, "dist/media/relay-main.js");
const allSystems: System[] = [
  { name: "plain", cmd: ["node", join(ROOT, "bench/rtp/plain-forwarder.mjs")], warmupS: 2 },
  // 5 s: latches turn final 3 s after the first packet (rtpengine's confirmation window),
  // then sockets connect() / the offload installs; measure the steady state after that.
  // Userspace said explicitly: the relay's default (`auto`) would hand the sessions to the kernel.
  { name: "hikari", cmd: ["node", relayMain, "--offload", "none"], warmupS: 5 },
  // A/B in the same run: BENCH_BASE_DIST names another build's dist/ (e.g. main's), as "hikari-base".
  ...(process.env.BENCH_BASE_DIST ? [{ name: "hikari-base", cmd: ["node", join(process.env.BENCH_BASE_DIST, "media/relay-main.js"), "--offload", "none"], warmupS: 5 }] : []),
  { name: "hikari-fast-send", cmd: ["node", relayMain, "--offload", "none"], warmupS: 5, env: { HIKARI_RELAY_FAST_SEND: "1" } },
  { name: "hikari-unconnected", cmd: ["node", relayMain, "--offload", "none"], warmupS: 5, env: { HIKARI_RELAY_CONNECT: "0" } },
  // Two RTP ports per session (one per side) in the `offloaded` set once its rules are in.
  // Calls arrive at 50/s (a busy exchange's worst minute, far above a home's), each handed to
  // the kernel once latched; all at once, 1000 calls would hit the userspace path together.
  { name: "offload", cmd: ["node", relayMain, "--offload", "nftables"], warmupS: 5, callsPerS: 50, resetOnFork: true, ready: (t, n) => t.offloadedPorts() >= 2 * n },
  { name: "rtpengine", cmd: ["node", join(ROOT, "bench/rtp/rtpengine-relay.mjs"), "--peer", LOAD_ADDR, "--peer-port", String(LOAD_PORT)], warmupS: 2 },
];
const wanted = (process.env.BENCH_SYSTEMS ?? "plain,hikari,offload,rtpengine").split(",");

/**
 * A system, or a variant of one with extra environment for its relay: "NAME+KEY=VALUE[+KEY=VALUE]",
 * e.g. "hikari+NODE_OPTIONS=--max-semi-space-size=1" or "plain+GLIBC_TUNABLES=glibc.malloc.mxfast=0",
 * so a runtime setting is compared with the same system without it in the same run.
 */
function variant(spec: string): System | undefined {
  const [name, ...env] = spec.split("+");
  const base = allSystems.find((s) => s.name === name);
  if (!base || env.length === 0) return base;
  const extra = Object.fromEntries(env.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
  return { ...base, name: spec, env: { ...base.env, ...extra } };
}
// SCHED_FIFO for the relay and the load tool (BENCH_RT=0 to disable): on a shared, busy
// machine CFS (and cgroup weights) otherwise let other work delay either side by tens of ms,
// which swamps the tail being measured. Same for every system, so ratios stay fair.
const RT = process.env.BENCH_RT === "0" ? [] : ["chrt", "-f", "20"];


interface LoadResult {
  sessions: number;
  sent: number;
  received: number;
  loss_pct: number;
  pps: number;
  p50_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  sender_behind_max_us: number;
}
interface Row extends LoadResult {
  system: string;
  calls: number;
  /** The relay process (all threads). */
  cpuPct: number;
  relayCore: CoreUse;
  loadCore: CoreUse;
  broken: boolean;
  note: string;
}

/**
 * The relay's first JSON line (its ports). Other lines (V8's --trace-gc / --trace-deopt
 * output, when a diagnosis run adds them) are skipped, and kept in BENCH_RELAY_STDOUT if set.
 */
function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    let found = false;
    const t = setTimeout(() => reject(new Error(`no output in ${timeoutMs} ms`)), timeoutMs);
    const keep = process.env.BENCH_RELAY_STDOUT;
    child.stdout!.on("data", (d: Buffer) => {
      if (keep) appendFileSync(keep, d);
      if (found) return;
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.startsWith("{")) continue;
        found = true;
        clearTimeout(t);
        resolve(line);
        return;
      }
    });
    child.once("exit", (code) => reject(new Error(`exited ${code} before its first line`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  await new Promise<void>((r) => {
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      r();
    }, 5000);
    child.once("exit", () => {
      clearTimeout(t);
      r();
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function step(topo: BenchTopology, sys: System, calls: number): Promise<Row> {
  try {
    return await stepOnce(topo, sys, calls);
  } catch (err) {
    console.error(`${sys.name} ${calls}: ${(err as Error).message}; retrying once`);
    await sleep(2000);
    return stepOnce(topo, sys, calls);
  }
}

const DIAG = process.env.BENCH_DIAG;

/** BENCH_DIAG: where a step's files go (a variant's environment kept readable in the name). */
function diagBase(sys: System, calls: number): string {
  return join(DIAG!, `${sys.name.replace(/[^\w.=+-]/g, "_")}-${calls}`);
}

/** BENCH_DIAG: the relay loads the probe, the load tool writes its late packets. */
function diagEnv(sys: System, calls: number): { relay: Record<string, string>; load: Record<string, string> } {
  if (!DIAG) return { relay: {}, load: {} };
  const base = diagBase(sys, calls);
  const probe = `--import ${join(ROOT, "bench/rtp/probe.mjs")}`;
  return {
    relay: { NODE_OPTIONS: `${sys.env?.NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? ""} ${probe}`.trim(), PROBE_OUT: `${base}.probe.json` },
    load: { LOAD_LATE: `${base}.late` },
  };
}

/**
 * BENCH_DIAG: over the measured window, the scheduler's switches on the relay core (on
 * CLOCK_MONOTONIC) and, in a second file, both cores' CPU samples at 4 kHz with call stacks
 * (`perf report -i SYSTEM-CALLS.cpu.data --sort pid,sym`: what each thread of the relay ran).
 */
function perfRecord(sys: System, calls: number): ChildProcess[] {
  if (!DIAG || !have("perf")) return [];
  const base = diagBase(sys, calls);
  const sched = ["-k", "CLOCK_MONOTONIC", "-e", "sched:sched_switch", "-e", "sched:sched_wakeup", "-o", `${base}.sched.data`];
  const cpu = ["-k", "CLOCK_MONOTONIC", "-F", "4000", "-g", "-o", `${base}.cpu.data`];
  // Samples on both cores: a hole on the load core (1) delays the load tool's receive stamps.
  return [
    ["-C", "0", ...sched],
    ["-C", "0,1", ...cpu],
  ].map((args) => spawn("perf", ["record", "-q", ...args, "--", "sleep", String(SECONDS)], { stdio: "ignore" }));
}

/** BENCH_NODE_FLAGS: node/V8 flags for every Node relay (e.g. "--trace-opt --trace-deopt"). */
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean);
/**
 * hikari-gw's relays run with the systemd unit's node flags and environment (bench/unit-launch.ts:
 * its young generation's size sets how much each collection frees at once, the relay's pause);
 * BENCH_NO_UNIT=1 leaves them out. The plain forwarder and rtpengine run as they are.
 */
const UNIT = process.env.BENCH_NO_UNIT === "1" ? { nodeFlags: [] as string[], env: {} as Record<string, string>, describe: "none" } : unitLaunch();
const isHikari = (sys: System) => sys.name.startsWith("hikari") || sys.name === "offload";

async function stepOnce(topo: BenchTopology, sys: System, calls: number): Promise<Row> {
  const flags = isHikari(sys) ? [...UNIT.nodeFlags, ...NODE_FLAGS] : NODE_FLAGS;
  const cmd = sys.cmd[0] === "node" ? ["node", ...flags, ...sys.cmd.slice(1)] : sys.cmd;
  const argv = [...cmd, "--sessions", String(calls), "--ports", PORTS, "--listen", RELAY_ADDR];
  const rt = RT.length && sys.resetOnFork ? ["chrt", "-R", ...RT.slice(1)] : RT;
  const rampS = sys.callsPerS ? calls / sys.callsPerS : 0;
  const diag = diagEnv(sys, calls);
  const relay = spawn("taskset", ["-c", "0", ...rt, ...topo.inRelay(argv)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOG_LEVEL: "warn", ...(isHikari(sys) ? UNIT.env : {}), ...sys.env, ...diag.relay },
  });
  let stderr = "";
  relay.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  let load: ChildProcess | undefined;
  try {
    const line = await firstLine(relay, 120_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${stderr.slice(-500)}`);
    });
    const info = JSON.parse(line) as { sessions: { a: number; b: number }[]; pid?: number };
    const ports = info.sessions.map((s) => `${s.a} ${s.b}`).join("\n");
    // taskset, chrt and `ip netns exec` all exec: relay.pid is the relay's own (rtpengine's
    // driver names the daemon's pid itself).
    const pid = info.pid ?? relay.pid!;
    load = spawn("taskset", ["-c", "1", ...RT, ...topo.inLoad([LOAD_BIN, LOAD_ADDR, RELAY_ADDR, String(LOAD_PORT), "-1", String(SECONDS), String(rampS)])], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, ...diag.load },
    });
    load.stdin!.end(ports + "\n");
    let out = "";
    load.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => load!.once("exit", () => r()));
    await sleep((sys.warmupS + rampS) * 1000);
    let note = "";
    if (sys.ready) {
      const until = performance.now() + READY_TIMEOUT_MS;
      while (!sys.ready(topo, calls) && performance.now() < until) await sleep(250);
      if (!sys.ready(topo, calls)) note = "not all sessions ready";
    }
    load.kill("SIGUSR1");
    const perf = perfRecord(sys, calls);
    const c0 = processTicks(pid);
    const k0 = coreTicks();
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const c1 = processTicks(pid);
    const k1 = coreTicks();
    const wallS = (performance.now() - t0) / 1000;
    await exited;
    for (const p of perf) await new Promise<void>((r) => (p.exitCode !== null ? r() : p.once("exit", () => r())));
    const res = JSON.parse(out.trim()) as LoadResult;
    const cpuPct = processPct(c0, c1, wallS);
    const broken = res.loss_pct >= 0.1 || res.p99_us > 20_000;
    if (stderr.includes("offload unavailable")) note = "offload unavailable";
    if (process.env.BENCH_RELAY_STDERR) appendFileSync(process.env.BENCH_RELAY_STDERR, `== ${sys.name} ${calls}\n${stderr}`);
    return { system: sys.name, calls, ...res, cpuPct, relayCore: coreUse(k0, k1, 0), loadCore: coreUse(k0, k1, 1), broken, note };
  } finally {
    if (load) await stop(load);
    await stop(relay);
  }
}

function fmtMs(us: number): string {
  return (us / 1000).toFixed(us < 10_000 ? 2 : 1);
}

const perK = (pct: number, pps: number) => (pps > 0 ? ((pct / pps) * 1000).toFixed(2) : "-");

function printTable(rows: Row[]): void {
  const head = ["system", "calls", "pkt/s", "loss %", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "proc CPU %", "proc %/kpps", "core0 busy %", "core0 si %", "core0 %/kpps", "core1 busy %", ""];
  const body = rows.map((r) => [
    r.system,
    String(r.calls),
    String(r.pps),
    r.loss_pct.toFixed(3),
    fmtMs(r.p50_us),
    fmtMs(r.p99_us),
    fmtMs(r.p999_us),
    fmtMs(r.max_us),
    r.cpuPct.toFixed(1),
    perK(r.cpuPct, r.pps),
    r.relayCore.busy.toFixed(1),
    r.relayCore.softirq.toFixed(1),
    perK(r.relayCore.busy, r.pps),
    r.loadCore.busy.toFixed(1),
    (r.broken ? "BROKEN " : "") + r.note,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(w[i]!)).join(" | ") + " |";
  console.log(line(head));
  console.log("|" + w.map((x) => "-".repeat(x + 2)).join("|") + "|");
  for (const b of body) console.log(line(b));
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error("bench:rtp needs root (network namespaces, nftables, SCHED_FIFO)");
    process.exitCode = 1;
    return;
  }
  execFileSync("cc", ["-O2", "-o", LOAD_BIN, join(ROOT, "bench/rtp/load.c")], { stdio: "inherit" });
  try {
    // The whole build (tsc, then the one-file command dist/cli.js launches), never tsc alone.
    execFileSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "ignore" });
  } catch {
    /* tsc emits even when other modules have type errors */
  }
  // In BENCH_SYSTEMS order, so an A/B pair can be run in both orders.
  const systems = wanted.map(variant).filter((s): s is System => s !== undefined);
  if (systems.some((s) => s.name === "rtpengine") && !have("rtpengine")) {
    console.warn("rtpengine not installed (apt-get install rtpengine-daemon): skipped");
    systems.splice(systems.findIndex((s) => s.name === "rtpengine"), 1);
  }
  const topo = new BenchTopology();
  const rows: Row[] = [];
  const broken = new Set<string>();
  try {
    for (const calls of LOADS) {
      for (const sys of systems) {
        if (broken.has(sys.name)) continue;
        const row = await step(topo, sys, calls);
        rows.push(row);
        console.error(
          `${sys.name} ${calls} calls: ${row.pps} pkt/s, loss ${row.loss_pct}%, p99 ${fmtMs(row.p99_us)} ms, proc CPU ${row.cpuPct.toFixed(1)}%, core0 ${row.relayCore.busy.toFixed(0)}% (si ${row.relayCore.softirq.toFixed(0)}%), core1 ${row.loadCore.busy.toFixed(0)}%${row.broken ? " BROKEN" : ""} ${row.note}`,
        );
        if (row.broken) broken.add(sys.name);
      }
      if (systems.every((s) => broken.has(s.name))) break;
    }
  } finally {
    await topo.destroy();
  }
  console.log(
    `\nRTP relay benchmark: ${SECONDS} s per step${RT.length ? " (SCHED_FIFO)" : ""}, relay on core 0, load on core 1 (separate namespaces, veth, RPS), 172-byte packets, 100 pkt/s per call\n` +
      "proc = the relay process's own CPU; core0 = everything on the relay's core (incl. softirq: kernel forwarding); si = softirq\n" +
      `hikari-gw's relays launched as the unit does: ${UNIT.describe}\n`,
  );
  printTable(rows);
  console.log("\nsustained (loss < 0.1 %, p99 ≤ 20 ms):");
  for (const sys of systems) {
    const ok = rows.filter((r) => r.system === sys.name && !r.broken);
    const best = ok.at(-1);
    const first = ok[0];
    console.log(
      `  ${sys.name.padEnd(19)} ${best ? `${best.calls} calls; at ${first!.calls} calls: p99 ${fmtMs(first!.p99_us)} ms, ${perK(first!.cpuPct, first!.pps)} proc CPU %/kpps, ${perK(first!.relayCore.busy, first!.pps)} core0 %/kpps` : "none"}`,
    );
  }
}

await main();
