/**
 * CPU readings for bench:rtp: a process's own time (all threads, /proc/<pid>/stat utime +
 * stime) and, per core, where the time went (/proc/stat, the columns mpstat prints). Kernel
 * forwarding (offload) never shows in any process's time: it is softirq on the core that
 * received the packet, so both are read over the same window.
 */
import { readFileSync } from "node:fs";

const HZ = 100; // USER_HZ

export function processTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}

/** user nice system idle iowait irq softirq steal, per core. */
export type CoreTicks = number[][];

export function coreTicks(): CoreTicks {
  const out: number[][] = [];
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (m) out[Number(m[1])] = m[2]!.trim().split(/\s+/).slice(0, 8).map(Number);
  }
  return out;
}

export interface CoreUse {
  /** Percent of the window, of one core. */
  user: number;
  system: number;
  softirq: number;
  busy: number;
}

export function coreUse(a: CoreTicks, b: CoreTicks, core: number): CoreUse {
  const d = b[core]!.map((v, i) => v - a[core]![i]!);
  const total = d.reduce((x, y) => x + y, 0) || 1;
  const pct = (v: number) => (v / total) * 100;
  const [user, nice, system, idle, iowait, irq, softirq] = d as [number, number, number, number, number, number, number];
  return { user: pct(user + nice), system: pct(system + irq), softirq: pct(softirq), busy: pct(total - idle - iowait) };
}

export function processPct(ticks0: number, ticks1: number, wallS: number): number {
  return ((ticks1 - ticks0) / HZ / wallS) * 100;
}
