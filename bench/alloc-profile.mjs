/**
 * Preload (node --import) that records where a process allocates, garbage included: V8's
 * sampling heap profiler with the objects scavenges and mark-compacts already collected
 * (node's own --heap-prof keeps only what is still alive at exit, which hides per-message
 * garbage). Written at exit as ALLOC_PROF_DIR/alloc-PID.heapprofile (DevTools' format).
 *
 *   ALLOC_PROF_DIR=/tmp/alloc npm run bench:sip -- --only hikari --reg 1000 --calls 400 \
 *        --step-s 20 --node-flags "--import=$PWD/bench/alloc-profile.mjs"
 *   node bench/alloc-summary.mjs /tmp/alloc/alloc-*.heapprofile
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env.ALLOC_PROF_DIR ?? ".";
const session = new Session();
session.connect();
session.post("HeapProfiler.startSampling", {
  samplingInterval: Number(process.env.ALLOC_PROF_INTERVAL ?? 16384),
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
process.on("exit", () => {
  // An in-process session answers synchronously, so this works in an exit handler.
  session.post("HeapProfiler.stopSampling", (err, res) => {
    if (!err) writeFileSync(join(dir, `alloc-${process.pid}.heapprofile`), JSON.stringify(res.profile));
  });
});
