/**
 * `npm run bench:rtp`: N bidirectional G.711 calls (2 × 50 packets/s of 172 bytes each) through
 * the relay on loopback, relay pinned to core 0 (`taskset -c 0`), the C load helper on core 1.
 * Systems in the same run (BENCHMARKS.md: only same-run ratios hold):
 *   plain     bench/rtp/plain-forwarder.mjs: Node dgram, the baseline
 *   hikari    `hikari-gw relay` (dist/media/relay-main.js), userspace, latched sockets connect()ed
 *   hikari-unconnected  the same with HIKARI_RELAY_CONNECT=0 (every foreign packet counted)
 *   offload   the same with --offload (nftables), when root
 * Each load step starts a fresh relay with N sessions, warms up (latching; offload needs the
 * 3 s latch confirmation), measures for BENCH_SECONDS, and samples the relay's CPU from
 * /proc/<pid>/stat over the measured window. A system stops climbing at its first broken step
 * (loss ≥ 0.1 % or p99 > 20 ms). As root everything runs in a throw-away network namespace,
 * so nftables rules and sockets never touch the host's.
 *
 * Env: BENCH_LOADS="200,400,600" BENCH_SECONDS=8 BENCH_SYSTEMS="plain,hikari,hikari-unconnected,offload"
 * BENCH_RT=0 (no SCHED_FIFO). rtpengine is not driven yet (Debian's rtpengine-daemon 10.5
 * installs here; an ng-protocol driver is left to do).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const LOAD_BIN = "/tmp/hikari-gw-rtp-load";
const NS = "hgwbench";
const PORTS = "40000-49999";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const LOADS = (process.env.BENCH_LOADS ?? "200,300,400,500,600,800,1000").split(",").map(Number);
const isRoot = process.getuid?.() === 0;
const HZ = 100; // USER_HZ: /proc/<pid>/stat ticks

interface System {
  name: string;
  cmd: string[];
  warmupS: number;
  env?: Record<string, string>;
}

const allSystems: System[] = [
  { name: "plain", cmd: ["node", join(ROOT, "bench/rtp/plain-forwarder.mjs")], warmupS: 2 },
  // 5 s: latches turn final 3 s after the first packet (rtpengine's confirmation window),
  // then sockets connect() / the offload installs; measure the steady state after that.
  { name: "hikari", cmd: ["node", join(ROOT, "dist/media/relay-main.js")], warmupS: 5 },
  { name: "hikari-unconnected", cmd: ["node", join(ROOT, "dist/media/relay-main.js")], warmupS: 5, env: { HIKARI_RELAY_CONNECT: "0" } },
  { name: "offload", cmd: ["node", join(ROOT, "dist/media/relay-main.js"), "--offload"], warmupS: 5 },
];
const wanted = (process.env.BENCH_SYSTEMS ?? "plain,hikari,hikari-unconnected,offload").split(",");
// SCHED_FIFO for the relay and the load tool (BENCH_RT=0 to disable): on a shared, busy
// machine CFS (and cgroup weights) otherwise let other work delay either side by tens of ms,
// which swamps the tail being measured. Same for every system, so ratios stay fair.
const RT = process.env.BENCH_RT === "0" ? [] : ["chrt", "-f", "20"];
const systems = allSystems.filter((s) => wanted.includes(s.name) && (s.name !== "offload" || isRoot));

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
  cpuPct: number;
  broken: boolean;
  note: string;
}

function inNs(cmd: string[]): string[] {
  return isRoot ? ["ip", "netns", "exec", NS, ...cmd] : cmd;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}

function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const t = setTimeout(() => reject(new Error(`no output in ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf("\n");
      if (i >= 0) {
        clearTimeout(t);
        resolve(buf.slice(0, i));
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

async function step(sys: System, calls: number): Promise<Row> {
  try {
    return await stepOnce(sys, calls);
  } catch (err) {
    console.error(`${sys.name} ${calls}: ${(err as Error).message}; retrying once`);
    await new Promise((r) => setTimeout(r, 2000));
    return stepOnce(sys, calls);
  }
}

async function stepOnce(sys: System, calls: number): Promise<Row> {
  const relay = spawn("taskset", ["-c", "0", ...RT, ...inNs([...sys.cmd, "--sessions", String(calls), "--ports", PORTS])], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOG_LEVEL: "warn", ...sys.env },
  });
  let stderr = "";
  relay.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  try {
    const line = await firstLine(relay, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${stderr.slice(-500)}`);
    });
    const ports = (JSON.parse(line) as { sessions: { a: number; b: number }[] }).sessions.map((s) => `${s.a} ${s.b}`).join("\n");
    // `taskset` execs the command and `ip netns exec` too: the pid is the relay's own.
    const pid = relay.pid!;
    const load = spawn("taskset", ["-c", "1", ...RT, ...inNs([LOAD_BIN, "127.0.0.1", "10000", String(sys.warmupS), String(SECONDS)])], { stdio: ["pipe", "pipe", "inherit"] });
    load.stdin!.end(ports + "\n");
    let out = "";
    load.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => load.once("exit", () => r()));
    await new Promise((r) => setTimeout(r, sys.warmupS * 1000));
    const c0 = cpuTicks(pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const c1 = cpuTicks(pid);
    const wallS = (performance.now() - t0) / 1000;
    await exited;
    const res = JSON.parse(out.trim()) as LoadResult;
    const cpuPct = ((c1 - c0) / HZ / wallS) * 100;
    const broken = res.loss_pct >= 0.1 || res.p99_us > 20_000;
    const note = stderr.includes("offload unavailable") ? "offload unavailable" : "";
    return { system: sys.name, calls, ...res, cpuPct, broken, note };
  } finally {
    await stop(relay);
  }
}

function fmtMs(us: number): string {
  return (us / 1000).toFixed(us < 10_000 ? 2 : 1);
}

function printTable(rows: Row[]): void {
  const head = ["system", "calls", "pkt/s", "loss %", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "CPU %", "CPU %/kpps", ""];
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
    r.pps > 0 ? ((r.cpuPct / r.pps) * 1000).toFixed(2) : "-",
    (r.broken ? "BROKEN " : "") + r.note,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(w[i]!)).join(" | ") + " |";
  console.log(line(head));
  console.log("|" + w.map((x) => "-".repeat(x + 2)).join("|") + "|");
  for (const b of body) console.log(line(b));
}

async function main(): Promise<void> {
  execFileSync("cc", ["-O2", "-o", LOAD_BIN, join(ROOT, "bench/rtp/load.c")], { stdio: "inherit" });
  try {
    execFileSync("npx", ["tsc", "-p", join(ROOT, "tsconfig.build.json")], { cwd: ROOT, stdio: "ignore" });
  } catch {
    /* tsc emits even when other modules have type errors */
  }
  if (isRoot) {
    try {
      execFileSync("ip", ["netns", "del", NS], { stdio: "ignore" });
    } catch {
      /* none left over */
    }
    execFileSync("ip", ["netns", "add", NS]);
    execFileSync("ip", ["netns", "exec", NS, "ip", "link", "set", "lo", "up"]);
  } else console.warn("not root: no namespace, no offload mode");
  const rows: Row[] = [];
  const broken = new Set<string>();
  const stopping = () => {
    if (isRoot) execFileSync("ip", ["netns", "del", NS], { stdio: "ignore" });
  };
  try {
    for (const calls of LOADS) {
      for (const sys of systems) {
        if (broken.has(sys.name)) continue;
        const row = await step(sys, calls);
        rows.push(row);
        console.error(`${sys.name} ${calls} calls: ${row.pps} pkt/s, loss ${row.loss_pct}%, p99 ${fmtMs(row.p99_us)} ms, CPU ${row.cpuPct.toFixed(1)}%${row.broken ? " BROKEN" : ""}`);
        if (row.broken) broken.add(sys.name);
      }
      if (systems.every((s) => broken.has(s.name))) break;
    }
  } finally {
    stopping();
  }
  console.log(`\nRTP relay benchmark: ${SECONDS} s per step${RT.length ? " (SCHED_FIFO)" : ""}, relay on core 0, load on core 1, 172-byte packets, 100 pkt/s per call\n`);
  printTable(rows);
  console.log("\nsustained (loss < 0.1 %, p99 ≤ 20 ms):");
  for (const sys of systems) {
    const ok = rows.filter((r) => r.system === sys.name && !r.broken);
    const best = ok.at(-1);
    console.log(`  ${sys.name.padEnd(8)} ${best ? `${best.calls} calls, ${((best.cpuPct / best.pps) * 1000).toFixed(2)} CPU %/kpps` : "none"}`);
  }
}

await main();
