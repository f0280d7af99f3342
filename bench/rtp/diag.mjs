// `node bench/rtp/diag.mjs DIR [TOP]`: lines up what a BENCH_DIAG=DIR run of bench:rtp recorded
// (bench/rtp.ts header). Per step: the load tool's late packets grouped into spikes (late
// packets sent within 1 ms of each other), the TOP worst (default 10), and for each what
// happened in the relay over the spike's window (from 2 ms before its first late packet was
// sent to when its last one arrived): loop gaps, GCs and slow timer callbacks from the probe,
// and who ran on the relay core (perf's sched_switch, when recorded), and whether the relay
// and load cores ran at all (a hole in perf's 4 kHz samples: the host did not run that vCPU).
// All on CLOCK_MONOTONIC.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
const TOP = Number(process.argv[3] ?? 10);
if (!dir) {
  console.error("usage: node bench/rtp/diag.mjs DIR [TOP]");
  process.exit(2);
}

function spikesOf(file) {
  const pk = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const [s, us] = line.split(" ");
    pk.push({ sent: Number(s), us: Number(us) });
  }
  pk.sort((a, b) => a.sent - b.sent);
  const spikes = [];
  let cur;
  for (const p of pk) {
    if (cur && p.sent - cur.last <= 1e6) {
      cur.last = p.sent;
      cur.n++;
      if (p.us > cur.maxUs) cur.maxUs = p.us;
      cur.end = Math.max(cur.end, p.sent + p.us * 1e3);
    } else {
      cur = { first: p.sent, last: p.sent, n: 1, maxUs: p.us, end: p.sent + p.us * 1e3 };
      spikes.push(cur);
    }
  }
  return { packets: pk.length, spikes };
}

/** Per-CPU-0 run intervals [from, to, comm/tid] from perf's sched_switch records. */
function runsOf(file) {
  let text;
  try {
    text = execFileSync("perf", ["script", "-i", file, "-F", "time,event,trace", "--ns"], { encoding: "utf8", maxBuffer: 1 << 30, stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return [];
  }
  const runs = [];
  let since = 0;
  let who = "?";
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+\.\d+):\s+sched:sched_switch:\s+prev_comm=(.*?) prev_pid=(\d+) .* next_comm=(.*?) next_pid=(\d+)/.exec(line);
    if (!m) continue;
    const t = Math.round(Number(m[1]) * 1e9);
    if (since) runs.push({ from: since, to: t, who });
    since = t;
    who = `${m[4]}/${m[5]}`;
  }
  return runs;
}

/** Times (ns) of each core's samples in the 4 kHz cpu-clock recording: [core0, core1]. */
function samplesOf(file) {
  let text = "";
  try {
    text = execFileSync("perf", ["script", "-i", file, "-F", "cpu,time", "--ns"], { encoding: "utf8", maxBuffer: 1 << 30, stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    /* no samples */
  }
  const per = [[], []];
  for (const l of text.split("\n")) {
    const m = /\[(\d+)\]\s+(\d+\.\d+)/.exec(l);
    if (m && Number(m[1]) < 2) per[Number(m[1])].push(Math.round(Number(m[2]) * 1e9));
  }
  return per.map((t) => Float64Array.from(t).sort());
}

/** The longest stretch inside [w0, w1] without a sample: the vCPU was not running (host). */
function longestHole(samples, w0, w1) {
  let lo = 0;
  let hi = samples.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (samples[mid] < w0) lo = mid + 1;
    else hi = mid;
  }
  let prev = w0;
  let best = 0;
  for (let i = lo; i < samples.length && samples[i] <= w1; i++) {
    best = Math.max(best, samples[i] - prev);
    prev = samples[i];
  }
  return samples.length ? Math.max(best, w1 - prev) : 0;
}

const overlap = (a0, a1, b0, b1) => Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
const ms = (ns) => (ns / 1e6).toFixed(2);

for (const f of readdirSync(dir).filter((x) => x.endsWith(".late")).sort()) {
  const step = f.slice(0, -5);
  const { packets, spikes } = spikesOf(join(dir, f));
  const probeFile = join(dir, `${step}.probe.json`);
  const probe = existsSync(probeFile) ? JSON.parse(readFileSync(probeFile, "utf8")) : null;
  const schedFile = join(dir, `${step}.sched.data`);
  const runs = existsSync(schedFile) ? runsOf(schedFile) : [];
  const cpuFile = join(dir, `${step}.cpu.data`);
  const samples = existsSync(cpuFile) ? samplesOf(cpuFile) : [new Float64Array(0), new Float64Array(0)];
  // The relay's own threads by name: main (tid = pid) and its helpers (V8 workers, libuv pool).
  const mine = new Map((probe?.threads ?? []).map((t) => [String(t.tid), t.tid === probe.pid ? "RELAY-MAIN" : `relay-thread`]));
  const label = (who) => {
    const tid = who.slice(who.lastIndexOf("/") + 1);
    return mine.has(tid) ? `${mine.get(tid)}/${tid}` : who;
  };
  console.log(`\n== ${step}: ${packets} late packets in ${spikes.length} spikes`);
  if (probe?.threads) console.log(`   threads (tid ticks): ${probe.threads.map((t) => `${t.tid}${t.tid === probe.pid ? "*" : ""} ${t.ticks}`).join(", ")}`);
  if (probe) {
    const gcMs = probe.gc.reduce((a, g) => a + g.ms, 0);
    console.log(
      `   relay: ${probe.messages} messages, ${probe.gaps.length} loop gaps > 1 ms, ${probe.gc.length} GCs (${gcMs.toFixed(1)} ms, max ${Math.max(0, ...probe.gc.map((g) => g.ms)).toFixed(2)}), ${probe.timers.length} slow timer callbacks; event-loop delay p99 ${probe.eld.p99} max ${probe.eld.max} ms`,
    );
  }
  const worst = [...spikes].sort((a, b) => b.maxUs - a.maxUs).slice(0, TOP);
  for (const s of worst) {
    const w0 = s.first - 2e6;
    const w1 = s.end;
    const parts = [`spike at ${ms(s.first)} ms: ${s.n} late, max ${(s.maxUs / 1e3).toFixed(2)} ms`];
    if (probe) {
      const gaps = probe.gaps.filter((g) => overlap(g.from, g.from + g.ms * 1e6, w0, w1) > 0);
      const gcs = probe.gc.filter((g) => overlap(g.at, g.at + g.ms * 1e6, w0, w1) > 0);
      const tms = probe.timers.filter((t) => overlap(t.at, t.at + t.ms * 1e6, w0, w1) > 0);
      for (const g of gaps) parts.push(`  gap ${g.ms.toFixed(2)} ms from ${ms(g.from - s.first)}`);
      for (const g of gcs) parts.push(`  gc kind ${g.kind} ${g.ms.toFixed(2)} ms at ${ms(g.at - s.first)}`);
      for (const t of tms) parts.push(`  timer ${t.name} ${t.ms.toFixed(2)} ms at ${ms(t.at - s.first)}`);
    }
    if (runs.length) {
      const by = new Map();
      for (const r of runs) {
        const o = overlap(r.from, r.to, w0, w1);
        if (o > 0) by.set(label(r.who), (by.get(label(r.who)) ?? 0) + o);
      }
      const list = [...by].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${ms(v)}`);
      parts.push(`  cpu0 over ${ms(w1 - w0)} ms: ${list.join(", ")}`);
    }
    // perf samples each core every 0.25 ms whatever runs (idle included); a hole well past that
    // is time the virtual CPU did not run at all (the host's scheduler), nothing in the guest.
    // Core 0 is the relay's, core 1 the load tool's (a hole there delays its receive stamps).
    samples.forEach((cpu, core) => {
      const hole = cpu.length ? longestHole(cpu, s.first, s.end) : 0;
      if (hole > 1e6) parts.push(`  no cpu${core} sample for ${ms(hole)} ms: that vCPU was not running (host)`);
    });
    console.log("   " + parts.join("\n   "));
  }
}
