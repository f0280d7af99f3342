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

/** Whether the object behind `ref` is gone after full collections (WeakRefs clear only between turns). */
export async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  await new Promise((r) => setImmediate(r));
  return ref.deref() === undefined;
}
