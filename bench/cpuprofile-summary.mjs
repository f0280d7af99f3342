#!/usr/bin/env node
/**
 * Summarises a V8 .cpuprofile (node --cpu-prof) by function: self time (the sample's own
 * frame) and total time (the function anywhere on the sample's stack, counted once per sample),
 * as a share of the busy time (all samples but "(idle)"), plus totals per file and the
 * garbage collector's share. What a bench:sip profile needs to find per-call work:
 *
 *   npm run bench:sip -- --only hikari --reg 1000 --calls 400 --step-s 20 \
 *        --node-flags "--cpu-prof --cpu-prof-dir=/tmp/prof"
 *   node bench/cpuprofile-summary.mjs /tmp/prof/CPU.*.cpuprofile [--top 40] [--total]
 *
 * --total sorts by total time instead of self time; --under NAME keeps only the samples with
 * NAME (a substring of "function file:line") on their stack, to see what one path costs. Paths are shown relative to the repo's
 * dist/ or node_modules/ where they lie inside them.
 */
import { readFileSync } from "node:fs";

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
};
const top = Number(opt("--top", "40"));
const byTotal = argv.includes("--total");
/** --under NAME: only the samples with a function whose name contains NAME on their stack. */
const under = opt("--under", "");
const files = argv.filter((a) => a.endsWith(".cpuprofile"));
if (files.length === 0) {
  console.error("usage: cpuprofile-summary.mjs FILE.cpuprofile [--top N] [--total] [--under NAME]");
  process.exit(2);
}

const shortUrl = (url) => {
  if (!url) return "";
  const u = url.replace(/^file:\/\//, "");
  const nm = u.lastIndexOf("/node_modules/");
  if (nm >= 0) return u.slice(nm + 1);
  const d = u.lastIndexOf("/dist/");
  if (d >= 0) return u.slice(d + 1);
  return u;
};
const pct = (x, all) => ((100 * x) / all).toFixed(1).padStart(5);

for (const file of files) {
  const p = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n) => {
    const f = n.callFrame;
    return f.url ? `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}:${f.lineNumber + 1}` : f.functionName;
  };
  // The time of a sample is the delta to the next one (V8's own convention in DevTools).
  const self = new Map();
  const total = new Map();
  const perFile = new Map();
  let busy = 0;
  let idle = 0;
  let allBusy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000; // ms
    const n = byId.get(p.samples[i]);
    const k = key(n);
    if (k !== "(idle)") allBusy += dt;
    if (under) {
      let found = false;
      for (let id = n.id; id !== undefined && !found; id = parent.get(id)) found = key(byId.get(id)).includes(under);
      if (!found) continue;
    }
    if (k === "(idle)") {
      idle += dt;
      continue;
    }
    busy += dt;
    self.set(k, (self.get(k) ?? 0) + dt);
    const f = shortUrl(n.callFrame.url) || k;
    perFile.set(f, (perFile.get(f) ?? 0) + dt);
    const seen = new Set();
    for (let id = n.id; id !== undefined; id = parent.get(id)) {
      const kk = key(byId.get(id));
      if (seen.has(kk)) continue;
      seen.add(kk);
      total.set(kk, (total.get(kk) ?? 0) + dt);
    }
  }
  const wall = (p.endTime - p.startTime) / 1000;
  console.log(`\n${file}${under ? ` (samples under ${under}: ${busy.toFixed(0)} ms, ${pct(busy, allBusy).trim()} % of all busy time)` : ""}`);
  console.log(`wall ${(wall / 1000).toFixed(1)} s, busy ${(busy / 1000).toFixed(1)} s, idle ${(idle / 1000).toFixed(1)} s; garbage collector ${pct(self.get("(garbage collector)") ?? 0, busy)} % of busy, (program) ${pct(self.get("(program)") ?? 0, busy)} %`);
  const rows = [...(byTotal ? total : self)].sort((a, b) => b[1] - a[1]).slice(0, top);
  console.log(`  self%  total%  function (by ${byTotal ? "total" : "self"} time)`);
  for (const [k] of rows) console.log(`  ${pct(self.get(k) ?? 0, busy)}  ${pct(total.get(k) ?? 0, busy)}   ${k}`);
  console.log("  self%  file");
  for (const [f, t] of [...perFile].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${pct(t, busy)}  ${f}`);
}
