/**
 * The heap that is live, for tests that measure what a structure keeps: node's gc() made
 * callable at run time (no --expose-gc on the command line), run until the figure settles.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** heapUsed after two full collections (the second frees what the first's finalizers let go). */
export function liveHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
