// Diagnosis probe for a relay under bench:rtp (BENCH_DIAG=DIR loads it into every Node relay
// with `--import`): what the relay process did when the load tool saw a late packet.
// Records, on CLOCK_MONOTONIC nanoseconds (what process.hrtime and load.c's LOAD_LATE use):
//  - gaps: stretches longer than PROBE_GAP_MS (default 1) with no 'message' event on any dgram
//    socket, while packets arrive every ~30 µs: the loop was not reading (busy elsewhere, or
//    not scheduled);
//  - gc: every GC (PerformanceObserver 'gc'), start and duration, kind;
//  - timers: every setTimeout/setInterval callback longer than PROBE_TIMER_MS (default 0.1),
//    with the function's name and its duration;
//  - threads: the process's threads (tid, CPU ticks) at exit: the main thread's tid is the pid;
//  - elu: event-loop delay histogram (monitorEventLoopDelay, 1 ms resolution) percentiles.
// Written as JSON to PROBE_OUT at exit. It costs one performance.now() per datagram.
import dgram from "node:dgram";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { monitorEventLoopDelay, performance, PerformanceObserver } from "node:perf_hooks";
import v8 from "node:v8";

const out = process.env.PROBE_OUT;
const GAP_MS = Number(process.env.PROBE_GAP_MS ?? 1);
const TIMER_MS = Number(process.env.PROBE_TIMER_MS ?? 0.1);
const MAX = 100_000;
// performance.now() is uv_hrtime() (CLOCK_MONOTONIC) minus the time origin.
const originNs = Number(process.hrtime.bigint()) - performance.now() * 1e6;
const mono = (ms) => Math.round(originNs + ms * 1e6);

const gaps = new Float64Array(2 * MAX);
let nGaps = 0;
let last = 0;
let messages = 0;
const emit = dgram.Socket.prototype.emit;
dgram.Socket.prototype.emit = function (ev, a, b) {
  if (ev === "message") {
    const t = performance.now();
    messages++;
    if (last !== 0 && t - last > GAP_MS && nGaps < MAX) {
      gaps[2 * nGaps] = last;
      gaps[2 * nGaps + 1] = t;
      nGaps++;
    }
    last = t;
    return emit.call(this, ev, a, b);
  }
  return emit.apply(this, arguments);
};

const gcs = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (gcs.length < MAX) gcs.push({ at: mono(e.startTime), ms: e.duration, kind: e.detail?.kind ?? e.kind });
}).observe({ entryTypes: ["gc"] });

const timers = [];
const wrap = (orig) =>
  function (fn, ...rest) {
    if (typeof fn !== "function") return orig.call(this, fn, ...rest);
    const name = fn.name || fn.toString().slice(0, 80).replace(/\s+/g, " ");
    return orig.call(
      this,
      function (...args) {
        const t0 = performance.now();
        try {
          return fn.apply(this, args);
        } finally {
          const d = performance.now() - t0;
          if (d > TIMER_MS && timers.length < MAX) timers.push({ at: mono(t0), ms: d, name });
        }
      },
      ...rest,
    );
  };
globalThis.setTimeout = wrap(globalThis.setTimeout);
globalThis.setInterval = wrap(globalThis.setInterval);

const eld = monitorEventLoopDelay({ resolution: 1 });
eld.enable();

function threads() {
  const list = [];
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const st = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
      list.push({ tid: Number(tid), comm: readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim(), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      /* gone */
    }
  }
  return list;
}

process.on("exit", () => {
  if (!out) return;
  const g = [];
  for (let i = 0; i < nGaps; i++) g.push({ from: mono(gaps[2 * i]), ms: gaps[2 * i + 1] - gaps[2 * i] });
  const ms = (ns) => Math.round(ns / 1e3) / 1e3;
  writeFileSync(
    out,
    JSON.stringify({
      messages,
      gaps: g,
      gc: gcs,
      timers,
      eld: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), p999: ms(eld.percentile(99.9)), max: ms(eld.max) },
      heap: process.memoryUsage(),
      newSpace: v8.getHeapSpaceStatistics().find((x) => x.space_name === "new_space"),
      pid: process.pid,
      threads: threads(),
    }),
  );
});
