/**
 * `npm run soak [-- --minutes N]` (default 20; not part of npm test; root, the lab's Debian
 * tools and `npm run build` first): the built gateway in the trunk lab (NGN emulator on its
 * WAN port, SIPp phones on its LAN, an attacker host on each side) for N minutes of:
 *  - continuous calls: phone 801 calls out through the line (SIPp, one at a time, ~2 s each,
 *    answered by the NGN emulator, which echoes RTP), in batches per cycle;
 *  - registrations and refreshes: 801 and 802 register every cycle (digest);
 *  - attacks, one per cycle in turn: 10,000 malformed datagrams (LAN + WAN, test/lab/security/
 *    flood.mjs; what comes from the line's own address carries no INVITE, since a well-formed
 *    one is a call from the line and rings 801 by design); svwar + svcrack from the LAN
 *    attacker; svwar + svcrack from the WAN;
 *  - faults, in turn: the NGN's registrar answers 503 for 15 s; the registrar silent for 20 s;
 *    once, early, the gateway SIGKILLed mid-call and restarted (bindings from state_dir).
 *    Calls during a fault's window (until the trunk is registered again) are counted apart.
 * Every 30 s it asks `hikari-gw status --gc` (node --expose-gc) for heap, RSS and open handles.
 * The report: calls completed/failed, registrations, RSS/heap/handles at start and end, and
 * the heap's slope over the last half (least squares). It fails (exit 1) when the heap has not
 * levelled off: a slope over the last half above 1 MB per 10 minutes, or the last sample more
 * than 10 MB above the first sample of that half; or when calls fail outside the faults' windows.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { checkLab } from "../test/lab/env.js";
import { Lab } from "../test/lab/netns.js";
import { NGN_LAB } from "../test/lab/ngn/addresses.js";
import { credentials, runSipp, type SippRun } from "../test/lab/sip/sipp.js";
import { startTrunkLab, type TrunkLab } from "../test/lab/trunk/trunk-lab.js";
import type { GatewayStatus } from "../test/lab/trunk/gateway-run.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const FLOOD = join(HERE, "..", "test", "lab", "security", "flood.mjs");
const MB = 1024 * 1024;
const WAN_ATTACKER = "198.18.5.66";
const DIALLED = "0399990000";
const SAMPLE_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sample {
  t_s: number;
  heap_mb: number;
  rss_mb: number;
  handles: Record<string, number>;
  trunk: string;
  calls_open: number;
  sessions: number;
}

const { values } = parseArgs({ options: { minutes: { type: "string", default: "20" }, out: { type: "string" } } });
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 240) {
  process.stderr.write("soak: --minutes expects a number of minutes (0 < N ≤ 240)\n");
  process.exit(2);
}
const lab0 = checkLab(["sipp", "dnsmasq", "tshark", "nft", "ss", "svwar", "svcrack"]);
if (!lab0.ok) {
  process.stderr.write(`soak: needs ${lab0.missing.join(", ")}\n`);
  process.exit(2);
}

const log = (msg: string) => process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** SIPp's closing statistics: "Successful call | <periodic> | <cumulative>". */
function sippCounts(output: string): { ok: number; failed: number } {
  const ok = [...output.matchAll(/Successful call\s*\|\s*\d+\s*\|\s*(\d+)/g)].at(-1)?.[1];
  const failed = [...output.matchAll(/Failed call\s*\|\s*\d+\s*\|\s*(\d+)/g)].at(-1)?.[1];
  return { ok: Number(ok ?? 0), failed: Number(failed ?? 0) };
}

async function main(): Promise<number> {
  const lab = new Lab("hgwsoak");
  let seq = 0;
  let t: TrunkLab | undefined;
  const dir = mkdtempSync(join(tmpdir(), "hgw-soak-"));
  const totals = { calls_ok: 0, calls_failed: 0, calls_failed_in_fault: 0, registrations_ok: 0, registrations_failed: 0, floods: 0, datagrams: 0, scans: 0, faults: [] as string[], slow_recoveries: [] as string[] };
  const samples: Sample[] = [];
  let started = Date.now();
  try {
    t = await startTrunkLab(lab, {
      dirPrefix: "hgw-soak-run-",
      extraHosts: ["900"],
      ngn: { grantExpires: 60, outbound: { ringMs: 100, answerMs: 200, byeWaitMs: 30_000 } },
      gateway: { registerExpires: 60, mediaTimeoutS: 10, exposeGc: true, lanListen: "0.0.0.0" },
      sippName: (sc) => `${++seq}-soak-${sc}`,
    });
    const { net, phone, phone2, ngn, gw } = t;
    const attacker = net.phones[2]!;
    if (t.registration.code !== 0) throw new Error(`801 did not register: ${t.registration.output}`);
    lab.exec(NGN_LAB.host, "ip", ["addr", "add", `${WAN_ATTACKER}/32`, "dev", "lo"]);
    lab.exec(NGN_LAB.host, "ip", ["route", "add", "198.18.2.0/24", "via", NGN_LAB.subnets[0].lease]);
    await ngn.waitForSip((e) => e.note === "200 registered", 30_000);
    const sipp = (scenario: string, more: Partial<SippRun> = {}): SippRun => ({ scenario, host: phone.host, localAddr: phone.addr, remote: `${net.gatewayAddr}:5060`, dir: t!.dir, name: `${++seq}-soak-${scenario.replace(".xml", "")}`, ...more });

    const status = (gc: boolean): GatewayStatus | undefined => {
      try {
        return gw.status(gc);
      } catch {
        return undefined;
      }
    };
    const sample = () => {
      const s = status(true);
      if (!s?.process) return;
      samples.push({
        t_s: Math.round((Date.now() - started) / 1000),
        heap_mb: s.process.heap_used_bytes / MB,
        rss_mb: s.process.rss_bytes / MB,
        handles: s.process.handles,
        trunk: s.trunk.state,
        calls_open: s.calls.length,
        sessions: s.media?.sessions ?? 0,
      });
      const x = samples.at(-1)!;
      log(`heap ${x.heap_mb.toFixed(1)} MB, rss ${x.rss_mb.toFixed(0)} MB, handles ${JSON.stringify(x.handles)}, trunk ${x.trunk}, calls ${totals.calls_ok} ok / ${totals.calls_failed} failed`);
    };

    // One call every 4 s, one at a time: the line has one channel, busy until the NGN has answered
  // the gateway's BYE, a moment after the phone's BYE got its 200; a next INVITE right behind
  // it can meet a busy line (486), which is the line's limit, not a failure under attack.
  const calls = async (n: number, inFault: boolean) => {
      const r = await runSipp(lab, sipp("uac-call.xml", { inf: [credentials("801", phone.password, DIALLED)], authUri: `${DIALLED}@${net.gatewayAddr}`, pauseMs: 2000, calls: n, timeoutS: n * 6 + 30, extra: ["-r", "1", "-rp", "4000", "-l", "1"] }));
      const c = sippCounts(r.output);
      totals.calls_ok += c.ok;
      if (inFault) totals.calls_failed_in_fault += c.failed;
      else totals.calls_failed += c.failed;
      if (c.ok + c.failed === 0) log(`call batch gave no counts (exit ${r.code}): ${r.output.slice(-400)}`);
    };
    const register = async () => {
      for (const p of [phone, phone2]) {
        const r = await runSipp(lab, { ...sipp("reg.xml", { inf: [credentials(p.number, p.password)], keys: { expires: "300" }, authUri: net.gatewayAddr, timeoutS: 15 }), host: p.host, localAddr: p.addr });
        if (r.code === 0) totals.registrations_ok++;
        else totals.registrations_failed++;
      }
    };
    const flood = async (seed: number) => {
      const run = (host: string, bind: string, target: string, count: number, methods?: string[]) =>
        new Promise<void>((resolve) => {
          const child = lab.spawn(host, process.execPath, [FLOOD, JSON.stringify({ bind, targets: [{ host: target, port: 5060 }], count, seconds: 10, seed, methods })]);
          const kill = setTimeout(() => child.kill("SIGKILL"), 40_000);
          child.once("exit", () => {
            clearTimeout(kill);
            resolve();
          });
        });
      await Promise.all([run(attacker.host, attacker.addr, net.gatewayAddr, 5000), run(NGN_LAB.host, NGN_LAB.pcscf, NGN_LAB.subnets[0].lease, 2500, ["REGISTER", "OPTIONS", "BYE", "SUBSCRIBE"]), run(NGN_LAB.host, WAN_ATTACKER, NGN_LAB.subnets[0].lease, 2500)]);
      totals.floods++;
      totals.datagrams += 10_000;
    };
    // Asynchronously: a blocking exec froze this process for the whole scan, and with it the
    // reading of every child's stdout pipe (the NGN front, the gateway, SIPp): once a pipe is
    // full its writer blocks (Node writes to pipes synchronously on Linux), so the line stopped
    // answering and the concurrent calls failed — the soak's own artefact, not the gateway's.
    const sv = async (host: string, bind: string, tool: string, args: string[]) => {
      await lab.run(host, "sh", ["-c", `cd ${t!.dir} && ${tool} -b ${bind} -x ${bind} ${args.join(" ")} >/dev/null 2>&1`], { timeoutMs: 60_000 }).catch(() => {
        /* a scan that times out is still a scan */
      });
      totals.scans++;
    };
    writeFileSync(join(t.dir, "soak-dict.txt"), Array.from({ length: 12 }, (_, i) => `guess${i}`).join("\n") + "\n");
    const attack = async (cycle: number) => {
      switch (cycle % 3) {
        case 0:
          return flood(cycle);
        case 1:
          await sv(attacker.host, attacker.addr, "svwar", ["-e", "800-830", net.gatewayAddr]);
          return sv(attacker.host, attacker.addr, "svcrack", ["-u", String(800 + (cycle % 10)), "-d", "soak-dict.txt", net.gatewayAddr]);
        default:
          await sv(NGN_LAB.host, WAN_ATTACKER, "svwar", ["-e", "800-810", "--maximumtime", "3", NGN_LAB.subnets[0].lease]);
          return sv(NGN_LAB.host, WAN_ATTACKER, "svcrack", ["-u", "801", "-d", "soak-dict.txt", "--maximumtime", "3", net.gatewayAddr]);
      }
    };
    const hasFault = (cycle: number) => cycle === 1 || cycle % 4 === 2 || (cycle % 4 === 0 && cycle > 0);
    /** Waits (up to 30 s) for the trunk to be registered again after a fault; a miss is a finding. */
    const lineBack = async (cycle: number) => {
      const deadline = Date.now() + 30_000;
      while (status(false)?.trunk.state !== "registered") {
        if (Date.now() >= deadline) {
          totals.slow_recoveries.push(`cycle ${cycle}: the trunk was not registered 30 s after the fault ended`);
          return;
        }
        await sleep(1000);
      }
    };
    /** Runs the cycle's fault (see hasFault); returns whether there was one. */
    const fault = async (cycle: number): Promise<boolean> => {
      if (cycle === 1) {
        // SIGKILL mid-call, then a restart: bindings from state_dir, the line registers again.
        totals.faults.push(`cycle ${cycle}: SIGKILL mid-call, restart`);
        // From 802's host: 801's host runs the cycle's call batch on its SIP port.
        const call = runSipp(lab, { ...sipp("uac-call.xml", { inf: [credentials("802", phone2.password, DIALLED)], authUri: `${DIALLED}@${net.gatewayAddr}`, pauseMs: 20_000, timeoutS: 30 }), host: phone2.host, localAddr: phone2.addr });
        await sleep(4000);
        await gw.kill();
        const regs = ngn.sipLog.filter((e) => e.note === "200 registered").length;
        gw.start(t!.config({ registerExpires: 60, mediaTimeoutS: 10, exposeGc: true, lanListen: "0.0.0.0" }));
        await call;
        await ngn.waitForSip((e) => e.note === "200 registered", 30_000, regs).catch(() => log("the line did not register again within 30 s of the restart"));
        // The heap is measured from here on: a restarted process starts a new history.
        samples.length = 0;
        started = Date.now();
        return true;
      }
      if (cycle % 4 === 2) {
        totals.faults.push(`cycle ${cycle}: registrar 503 for 15 s`);
        ngn.registrar.stop("503");
        await sleep(15_000);
        ngn.registrar.start();
        return true;
      }
      if (cycle % 4 === 0 && cycle > 0) {
        totals.faults.push(`cycle ${cycle}: registrar silent for 20 s`);
        ngn.registrar.stop("down");
        await sleep(20_000);
        ngn.registrar.start();
        return true;
      }
      return false;
    };

    log(`running ${minutes} min; gateway log lines so far ${gw.lines.length}`);
    const endAt = Date.now() + minutes * 60_000;
    let nextSample = 0;
    const sampler = setInterval(() => {
      if (Date.now() >= nextSample) sample();
    }, 5000);
    sample();
    nextSample = Date.now() + SAMPLE_MS;
    let cycle = 0;
    for (; Date.now() < endAt - 20_000 && cycle < 1000; cycle++) {
      await register();
      // A fault's window: calls meanwhile may fail (the line or the gateway is down), so they
      // are a batch of their own, counted apart; the window closes when the line is registered
      // again. Only then the cycle's calls, which must all complete, beside its attack. (They
      // used to run during the fault and counted as failures outside it.)
      if (hasFault(cycle)) {
        await Promise.all([fault(cycle), calls(3, true)]);
        await lineBack(cycle);
      }
      await Promise.all([calls(12, false), attack(cycle)]);
      if (Date.now() >= nextSample) {
        sample();
        nextSample = Date.now() + SAMPLE_MS;
      }
    }
    clearInterval(sampler);
    await sleep(35_000); // transactions of the last attack linger 64*T1
    sample();
    const end = status(true);

    // ---- report --------------------------------------------------------------------------
    const half = samples.filter((s) => s.t_s >= (samples.at(-1)!.t_s - samples[0]!.t_s) / 2 + samples[0]!.t_s);
    const slopeMbPer10Min = slope(half.map((s) => s.t_s), half.map((s) => s.heap_mb)) * 600;
    const first = samples[0]!;
    const last = samples.at(-1)!;
    const rise = last.heap_mb - half[0]!.heap_mb;
    const report = {
      minutes,
      cycles: cycle,
      calls_completed: totals.calls_ok,
      calls_failed: totals.calls_failed,
      calls_failed_during_faults: totals.calls_failed_in_fault,
      registrations: { ok: totals.registrations_ok, failed: totals.registrations_failed },
      attacks: { floods: totals.floods, datagrams: totals.datagrams, scans: totals.scans },
      faults: totals.faults,
      start: { heap_mb: +first.heap_mb.toFixed(1), rss_mb: +first.rss_mb.toFixed(1), handles: first.handles },
      end: { heap_mb: +last.heap_mb.toFixed(1), rss_mb: +last.rss_mb.toFixed(1), handles: last.handles, calls_open: last.calls_open, relay_sessions: last.sessions, trunk: last.trunk },
      heap_slope_last_half_mb_per_10min: +slopeMbPer10Min.toFixed(2),
      heap_rise_over_last_half_mb: +rise.toFixed(1),
      sip_counters: end?.sip,
      gateway_log_lines: gw.lines.length,
      samples: samples.map((s) => [s.t_s, +s.heap_mb.toFixed(1), +s.rss_mb.toFixed(0)]),
    };
    const problems: string[] = [];
    if (slopeMbPer10Min > 1) problems.push(`heap still rising over the last half: ${slopeMbPer10Min.toFixed(2)} MB per 10 min`);
    if (rise > 10) problems.push(`heap rose ${rise.toFixed(1)} MB over the last half`);
    if (totals.calls_failed > 0) problems.push(`${totals.calls_failed} calls failed outside the faults' windows`);
    if (totals.calls_ok === 0) problems.push("no call completed");
    problems.push(...totals.slow_recoveries);
    if (last.calls_open !== 0 || last.sessions !== 0) problems.push(`left over: ${last.calls_open} calls, ${last.sessions} relay sessions`);
    if (last.trunk !== "registered") problems.push(`trunk ${last.trunk} at the end`);
    const text = JSON.stringify({ ...report, verdict: problems.length ? problems : "memory levels off; no call failed outside the faults" }, null, 2);
    process.stdout.write(text + "\n");
    if (values.out) writeFileSync(values.out, text + "\n");
    await gw.stop();
    return problems.length ? 1 : 0;
  } finally {
    await t?.ngn.stop().catch(() => undefined);
    await lab.destroy();
    t?.ngn.removeFiles();
    if (t) rmSync(t.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak failed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
