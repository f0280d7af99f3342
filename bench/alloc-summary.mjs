#!/usr/bin/env node
/**
 * Summarises a sampling heap profile (bench/alloc-profile.mjs, or DevTools' .heapprofile) by
 * allocating function: bytes allocated there (self) and under it (total), as a share of all.
 *
 *   node bench/alloc-summary.mjs FILE.heapprofile [--top 40] [--total] [--per N]
 *
 * --per N also prints bytes per N-th (e.g. --per 8000 for the calls a bench:sip step made).
 */
import { readFileSync } from "node:fs";

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
};
const top = Number(opt("--top", "40"));
const per = Number(opt("--per", "0"));
const byTotal = argv.includes("--total");
const files = argv.filter((a) => a.endsWith(".heapprofile"));
if (files.length === 0) {
  console.error("usage: alloc-summary.mjs FILE.heapprofile [--top N] [--total] [--per N]");
  process.exit(2);
}

const shortUrl = (url) => {
  const u = (url ?? "").replace(/^file:\/\//, "");
  const nm = u.lastIndexOf("/node_modules/");
  if (nm >= 0) return u.slice(nm + 1);
  const d = u.lastIndexOf("/dist/");
  return d >= 0 ? u.slice(d + 1) : u;
};
const key = (f) => (f.url ? `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}:${f.lineNumber + 1}` : f.functionName || "(root)");
const mb = (b) => (b / 1048576).toFixed(1).padStart(7);

for (const file of files) {
  const p = JSON.parse(readFileSync(file, "utf8"));
  const self = new Map();
  const total = new Map();
  let all = 0;
  // Each node's selfSize is what the samples attributed to it; a function's total counts it
  // once per stack even when it recurses.
  const walk = (n, stack) => {
    const k = key(n.callFrame);
    const size = n.selfSize ?? 0;
    all += size;
    self.set(k, (self.get(k) ?? 0) + size);
    const mine = stack.includes(k) ? stack : [...stack, k];
    for (const s of mine) total.set(s, (total.get(s) ?? 0) + size);
    for (const c of n.children ?? []) walk(c, mine);
  };
  walk(p.head, []);
  console.log(`\n${file}: ${mb(all).trim()} MB sampled${per ? `, ${((all / per) / 1024).toFixed(1)} KB per ${per}-th` : ""}`);
  console.log(`     self MB   total MB  function (by ${byTotal ? "total" : "self"})`);
  for (const [k] of [...(byTotal ? total : self)].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${mb(self.get(k) ?? 0)} ${mb(total.get(k) ?? 0)}    ${k}`);
  }
}
