/**
 * What one ended call holds while it lingers (64·T1), object by object: the scenario of
 * src/pbx/pbx-heap.test.ts (answered calls at 500/s of fake time), a heap snapshot before
 * and one after N calls, and the objects new in the second one summed by kind (V8 node type
 * and constructor), per call, with what retains them. Not part of npm test.
 *
 *   npx vite-node bench/linger-heap.ts [N=2000] [--keep DIR] [--why TEXT]
 *
 * --why TEXT: the retaining paths of a few new objects whose kind or (string) text starts with TEXT.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString, writeHeapSnapshot } from "node:v8";
import { runInNewContext } from "node:vm";
import { lingerRig } from "../test/support/pbx/linger-rig.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const args = process.argv.slice(2);
const keepAt = args.indexOf("--keep");
const keep = keepAt >= 0 ? args[keepAt + 1] : undefined;
const whyAt = args.indexOf("--why");
const why = whyAt >= 0 ? args[whyAt + 1] : undefined;
const N = Number(args.find((a, i) => /^\d+$/.test(a) && !(keepAt >= 0 && i === keepAt + 1)) ?? 2000);
if (!Number.isInteger(N) || N <= 0 || N > 20_000) throw new Error("N: 1 to 20000 calls");

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
}

interface Snapshot {
  nodes: Uint32Array | number[];
  edges: Uint32Array | number[];
  strings: string[];
  nodeFields: number;
  edgeFields: number;
  nodeTypes: string[];
  edgeTypes: string[];
  firstEdge: Uint32Array;
}

function load(file: string): Snapshot {
  const s = JSON.parse(readFileSync(file, "utf8")) as {
    snapshot: { meta: { node_fields: string[]; edge_fields: string[]; node_types: [string[]]; edge_types: [string[]] } };
    nodes: number[];
    edges: number[];
    strings: string[];
  };
  const nodeFields = s.snapshot.meta.node_fields.length;
  const edgeFields = s.snapshot.meta.edge_fields.length;
  const count = s.nodes.length / nodeFields;
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e;
    e += s.nodes[i * nodeFields + 4]! * edgeFields;
    firstEdge[i + 1] = e;
  }
  return { nodes: s.nodes, edges: s.edges, strings: s.strings, nodeFields, edgeFields, nodeTypes: s.snapshot.meta.node_types[0], edgeTypes: s.snapshot.meta.edge_types[0], firstEdge };
}

const STRING_TYPES = new Set(["string", "concatenated string", "sliced string"]);

function kindOf(s: Snapshot, i: number): string {
  const type = s.nodeTypes[s.nodes[i * s.nodeFields]!]!;
  const name = s.strings[s.nodes[i * s.nodeFields + 1]!]!;
  if (STRING_TYPES.has(type)) return `(${type})`;
  if (type === "number") return "(heap number)";
  return `${type}: ${name.length > 60 ? name.slice(0, 60) + "…" : name}`;
}

function summarize(before: Snapshot, after: Snapshot): void {
  const old = new Set<number>();
  for (let i = 0; i < before.nodes.length; i += before.nodeFields) old.add(before.nodes[i + 2]!);
  const count = after.nodes.length / after.nodeFields;
  const fresh = new Uint8Array(count);
  const groups = new Map<string, { n: number; bytes: number; retainers: Map<string, number> }>();
  const stringSamples = new Map<string, { n: number; bytes: number }>();
  for (let i = 0; i < count; i++) {
    if (old.has(after.nodes[i * after.nodeFields + 2]!)) continue;
    fresh[i] = 1;
  }
  // Retainers of the new nodes: each edge pointing at one.
  const retainers = new Map<number, string[]>();
  const weak = after.edgeTypes.indexOf("weak");
  for (let from = 0; from < count; from++) {
    for (let e = after.firstEdge[from]!; e < after.firstEdge[from + 1]!; e += after.edgeFields) {
      if (after.edges[e] === weak) continue;
      const to = after.edges[e + 2]! / after.nodeFields;
      if (!fresh[to]) continue;
      const et = after.edgeTypes[after.edges[e]!]!;
      const nameOrIndex = after.edges[e + 1]!;
      const edgeName = et === "element" || et === "hidden" ? `[${nameOrIndex}]` : after.strings[nameOrIndex]!;
      const label = `${kindOf(after, from)} .${edgeName.length > 30 ? edgeName.slice(0, 30) + "…" : edgeName}`;
      let l = retainers.get(to);
      if (!l) retainers.set(to, (l = []));
      if (l.length < 2) l.push(label);
    }
  }
  let total = 0;
  for (let i = 0; i < count; i++) {
    if (!fresh[i]) continue;
    const k = kindOf(after, i);
    const size = after.nodes[i * after.nodeFields + 3]!;
    total += size;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { n: 0, bytes: 0, retainers: new Map() }));
    g.n++;
    g.bytes += size;
    const r = retainers.get(i)?.[0] ?? "(none)";
    g.retainers.set(r, (g.retainers.get(r) ?? 0) + 1);
    if (k.startsWith("(") && k.includes("string")) {
      const text = after.strings[after.nodes[i * after.nodeFields + 1]!]!.slice(0, 24).replace(/[\r\n\u0000]/g, "·");
      const key = `${k} ${JSON.stringify(text)}`;
      const ss = stringSamples.get(key) ?? { n: 0, bytes: 0 };
      ss.n++;
      ss.bytes += size;
      stringSamples.set(key, ss);
    }
  }
  if (why) paths(after, fresh, retainers, why);
  owners(after, fresh);
  const big: number[] = [];
  for (let i = 0; i < count; i++) if (fresh[i] && after.nodes[i * after.nodeFields + 3]! > 16_384) big.push(i);
  big.sort((x, y) => after.nodes[y * after.nodeFields + 3]! - after.nodes[x * after.nodeFields + 3]!);
  console.log("\nlargest new objects (over 16 KB):");
  for (const i of big.slice(0, 12)) console.log(`${String(after.nodes[i * after.nodeFields + 3]).padStart(9)}  ${kindOf(after, i)}  ← ${JSON.stringify(retainers.get(i))}`);
  const rows = [...groups.entries()].sort((x, y) => y[1].bytes - x[1].bytes);
  console.log(`\nnew objects: ${(total / N).toFixed(0)} bytes per call (self sizes, ${N} calls)\n`);
  console.log("per call   bytes/call  kind                                              top retainers");
  for (const [k, g] of rows.slice(0, 40)) {
    const tops = [...g.retainers.entries()].sort((x, y) => y[1] - x[1]).slice(0, 3).map(([r, n]) => `${(n / N).toFixed(1)}× ${r}`).join(" | ");
    console.log(`${(g.n / N).toFixed(2).padStart(8)} ${(g.bytes / N).toFixed(0).padStart(11)}  ${k.padEnd(50)} ${tops}`);
  }
  console.log("\nstrings by their first characters:");
  for (const [k, g] of [...stringSamples.entries()].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, 30)) {
    console.log(`${(g.n / N).toFixed(2).padStart(8)} ${(g.bytes / N).toFixed(0).padStart(8)}  ${k}`);
  }
}

const GENERIC = /^(object: (Object|Array|Map|Set|Buffer|ArrayBuffer|system \/ .*)|array: .*|closure: .*|hidden: .*|native: .*|\(.*\))$/;

/**
 * Each new object's bytes charged to its nearest owner worth a name: up its first strong
 * retainers through plain objects, arrays, closures and strings, to an instance of a class
 * (a transaction, a dialog…) or to an object that was there before the calls (a table).
 */
function owners(s: Snapshot, fresh: Uint8Array): void {
  const count = s.nodes.length / s.nodeFields;
  const first = new Int32Array(count).fill(-1);
  const firstEdge = new Int32Array(count).fill(-1);
  const weak = s.edgeTypes.indexOf("weak");
  for (let from = 0; from < count; from++) {
    for (let e = s.firstEdge[from]!; e < s.firstEdge[from + 1]!; e += s.edgeFields) {
      if (s.edges[e] === weak) continue;
      const to = s.edges[e + 2]! / s.nodeFields;
      if (first[to] === -1 || (!fresh[first[to]!] && fresh[from])) {
        first[to] = from;
        firstEdge[to] = e;
      }
    }
  }
  const edgeName = (e: number) => {
    const et = s.edgeTypes[s.edges[e]!]!;
    return et === "element" || et === "hidden" ? "[]" : s.strings[s.edges[e + 1]!]!;
  };
  const by = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    if (!fresh[i]) continue;
    let at = i;
    let label = "(unreached)";
    for (let step = 0; step < 12; step++) {
      const r = first[at]!;
      if (r < 0) break;
      const k = kindOf(s, r);
      if (!fresh[r]) {
        label = `${k} (old) .${edgeName(firstEdge[at]!)}`;
        break;
      }
      if (!GENERIC.test(k)) {
        label = `${k} .${edgeName(firstEdge[at]!)}`;
        break;
      }
      at = r;
    }
    by.set(label, (by.get(label) ?? 0) + s.nodes[i * s.nodeFields + 3]!);
  }
  console.log("\nbytes per call by owner (nearest named object up the first retainers, and its field):");
  for (const [k, b] of [...by.entries()].sort((x, y) => y[1] - x[1]).slice(0, 30)) console.log(`${(b / N).toFixed(0).padStart(8)}  ${k}`);
}

/** Up to 3 retaining chains (6 steps each) of new objects whose kind or text starts with `prefix`. */
function paths(s: Snapshot, fresh: Uint8Array, direct: Map<number, string[]>, prefix: string): void {
  const count = s.nodes.length / s.nodeFields;
  const up = new Map<number, number[]>();
  const weak = s.edgeTypes.indexOf("weak");
  for (let from = 0; from < count; from++) {
    for (let e = s.firstEdge[from]!; e < s.firstEdge[from + 1]!; e += s.edgeFields) {
      if (s.edges[e] === weak) continue;
      const to = s.edges[e + 2]! / s.nodeFields;
      let l = up.get(to);
      if (!l) up.set(to, (l = []));
      if (l.length < 3) l.push(from);
    }
  }
  let shown = 0;
  for (let i = 0; i < count && shown < 3; i++) {
    if (!fresh[i]) continue;
    const text = s.strings[s.nodes[i * s.nodeFields + 1]!]!;
    if (!kindOf(s, i).startsWith(prefix) && !text.startsWith(prefix)) continue;
    if (shown > 0 && i % 7 !== 0) continue;
    shown++;
    console.log(`\n${kindOf(s, i)} ${JSON.stringify(text.slice(0, 40))} (${s.nodes[i * s.nodeFields + 3]} B), retained by ${JSON.stringify(direct.get(i))}`);
    let at = [i];
    for (let depth = 0; depth < 7 && at.length > 0; depth++) {
      const next: number[] = [];
      for (const n of at) for (const r of up.get(n) ?? []) if (next.length < 4) next.push(r);
      console.log(`  ${"  ".repeat(depth)}← ${next.map((n) => `${kindOf(s, n)}${fresh[n] ? "" : " (old)"}`).join(" ; ")}`);
      at = next.filter((n) => fresh[n]);
    }
  }
}

const dir = keep ?? mkdtempSync(join(tmpdir(), "hgw-linger-heap-"));
const rig = await lingerRig();
await rig.calls(300);
await rig.pass(70_000);
await settle();
const m0 = process.memoryUsage();
const f1 = writeHeapSnapshot(join(dir, "before.heapsnapshot"));
await settle();
await rig.calls(N);
await settle();
const m1 = process.memoryUsage();
const f2 = writeHeapSnapshot(join(dir, "after.heapsnapshot"));
console.log(`heapUsed ${((m1.heapUsed - m0.heapUsed) / N).toFixed(0)} B/call, external ${((m1.external - m0.external) / N).toFixed(0)} B/call, arrayBuffers ${((m1.arrayBuffers - m0.arrayBuffers) / N).toFixed(0)} B/call; dialogs ${rig.pbx.dialogCount}; layer ${JSON.stringify(rig.gwTx.stats())}`);
summarize(load(f1), load(f2));
await rig.close();
if (!keep) rmSync(dir, { recursive: true, force: true });
else console.log(`snapshots kept in ${dir}`);
