/**
 * The gateway process's own footprint for `hikari-gw status`: memory (RSS, V8 heap, buffers)
 * and the open handles by kind (sockets, timers, files). A leak shows here as a level that
 * keeps rising; the soak and the flood lab read it from outside the process.
 *
 * `collect`: run a full garbage collection first, so "heap used" is what is really retained.
 * Only possible when Node was started with --expose-gc (the lab does); otherwise it is
 * skipped and the answer says so (`gc: false`).
 */
export interface ProcessStats {
  rss_bytes: number;
  heap_used_bytes: number;
  heap_total_bytes: number;
  external_bytes: number;
  array_buffers_bytes: number;
  /** Whether a full GC ran just before these figures. */
  gc: boolean;
  /** Open handles by kind (process.getActiveResourcesInfo()). */
  handles: Record<string, number>;
}

export function processStats(opts: { collect?: boolean } = {}): ProcessStats {
  const gc = (globalThis as { gc?: () => void }).gc;
  const collected = opts.collect === true && typeof gc === "function";
  if (collected) gc();
  const m = process.memoryUsage();
  const handles: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) handles[kind] = (handles[kind] ?? 0) + 1;
  return {
    rss_bytes: m.rss,
    heap_used_bytes: m.heapUsed,
    heap_total_bytes: m.heapTotal,
    external_bytes: m.external,
    array_buffers_bytes: m.arrayBuffers,
    gc: collected,
    handles,
  };
}
