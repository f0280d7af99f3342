/**
 * The Pi-class budget of `npm run bench:pi`: a transient cgroup that the gateway (and every
 * process it forks) runs in, created here and removed at the end.
 *
 * Model (a Raspberry Pi 3 B, the smallest board the gateway targets):
 *  - CPU: 20 % of one core of this machine. A Pi 3's Cortex-A53 at 1.2 GHz runs V8 about a
 *    fifth as fast as one core of a current x86 server core (single-thread JS benchmarks put
 *    it at 4–6x slower), and the gateway is one event loop, so one core at a fifth models it.
 *    The quota is handed out in 10 ms periods (2 ms of CPU per 10 ms), not the kernel's default
 *    100 ms: with a 100 ms period a busy process runs 20 ms at full speed and then stalls 80 ms,
 *    a pause no Pi ever shows; 10 ms keeps the stalls short, closer to a uniformly slower CPU.
 *    The process is also pinned to core 0 (taskset), so it never uses two cores at once, and
 *    the group's CPU weight is raised (cpu.shares 10240 / cpu.weight 1000): on a Pi the gateway
 *    is the main service, so on this shared machine the others' work must not take its 20 %.
 *  - Memory: 256 MB, swap included. A 1 GB Pi 3 runs the OS, journald, Home Assistant's MQTT
 *    peer or a VPN beside the gateway; a quarter of the board is its share. Past it the kernel
 *    OOM-kills the process, which the bench reports.
 * Works on cgroup v2 (cpu.max, memory.max) and on v1 hierarchies (cpu.cfs_quota_us,
 * memory.limit_in_bytes), whichever this host mounts: this development machine has v1.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const PI_MODEL = {
  cpuQuotaUs: 2000,
  cpuPeriodUs: 10000,
  memoryBytes: 256 * 1024 * 1024,
  describe: "CPU 20 % of one core (2 ms per 10 ms, pinned to core 0), memory 256 MB incl. swap",
} as const;

const ROOT = "/sys/fs/cgroup";

export class PiCgroup {
  /** The directories made (one on v2, one per controller on v1), removed by destroy(). */
  private readonly dirs: string[] = [];
  readonly version: 1 | 2;

  constructor(name: string) {
    if (existsSync(join(ROOT, "cgroup.controllers"))) {
      this.version = 2;
      const have = readFileSync(join(ROOT, "cgroup.controllers"), "utf8");
      if (!/\bcpu\b/.test(have) || !/\bmemory\b/.test(have)) throw new Error(`cgroup v2 without cpu/memory controllers (${have.trim()})`);
      // Controllers must be enabled in the parent's subtree_control for a child to get them.
      writeFileSync(join(ROOT, "cgroup.subtree_control"), "+cpu +memory");
      const dir = join(ROOT, name);
      mkdirSync(dir);
      this.dirs.push(dir);
      writeFileSync(join(dir, "cpu.max"), `${PI_MODEL.cpuQuotaUs} ${PI_MODEL.cpuPeriodUs}`);
      writeFileSync(join(dir, "memory.max"), String(PI_MODEL.memoryBytes));
      writeFileSync(join(dir, "cpu.weight"), "1000");
      writeFileSync(join(dir, "memory.swap.max"), "0");
      return;
    }
    this.version = 1;
    const cpu = join(ROOT, "cpu", name);
    // Nested under this process's own memory cgroup (a container's limit still applies above).
    const own = /^\d+:memory:(.*)$/m.exec(readFileSync("/proc/self/cgroup", "utf8"))?.[1] ?? "/";
    const mem = join(ROOT, "memory", own, name);
    if (!existsSync(join(ROOT, "cpu")) || !existsSync(join(ROOT, "memory"))) throw new Error("no cgroup v2 and no v1 cpu/memory hierarchies under /sys/fs/cgroup");
    mkdirSync(cpu);
    this.dirs.push(cpu);
    mkdirSync(mem);
    this.dirs.push(mem);
    writeFileSync(join(cpu, "cpu.cfs_period_us"), String(PI_MODEL.cpuPeriodUs));
    writeFileSync(join(cpu, "cpu.cfs_quota_us"), String(PI_MODEL.cpuQuotaUs));
    writeFileSync(join(cpu, "cpu.shares"), "10240");
    writeFileSync(join(mem, "memory.limit_in_bytes"), String(PI_MODEL.memoryBytes));
    try {
      writeFileSync(join(mem, "memory.memsw.limit_in_bytes"), String(PI_MODEL.memoryBytes));
    } catch {
      /* no swap accounting on this kernel: the limit is on RAM alone */
    }
  }

  /** The files a pid is written to, to join (shell: `echo $$ > F` for each, then exec). */
  get procsFiles(): string[] {
    return this.dirs.map((d) => join(d, "cgroup.procs"));
  }

  /** Wraps argv so that it runs inside the cgroup (the shell joins, then execs it: same pid). */
  wrap(argv: string[]): string[] {
    const joins = this.procsFiles.map((f) => `echo $$ > '${f}'`).join(" && ");
    return ["sh", "-c", `${joins} && exec "$@"`, "sh", ...argv];
  }

  /** Peak memory charged to the group, bytes (v1 max_usage; v2 memory.peak where the kernel has it). */
  peakBytes(): number {
    const f = this.version === 2 ? join(this.dirs[0]!, "memory.peak") : join(this.dirs[1]!, "memory.max_usage_in_bytes");
    try {
      return Number(readFileSync(f, "utf8").trim());
    } catch {
      return NaN;
    }
  }

  /** Times the group ran out of its CPU quota, and for how long in all (ms). */
  throttled(): { periods: number; ms: number } {
    const text = readFileSync(join(this.dirs[0]!, "cpu.stat"), "utf8");
    const num = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, "m").exec(text)?.[1] ?? NaN);
    return this.version === 2 ? { periods: num("nr_throttled"), ms: num("throttled_usec") / 1000 } : { periods: num("nr_throttled"), ms: num("throttled_time") / 1e6 };
  }

  /** Whether the kernel OOM-killed anything in the group. */
  oomKills(): number {
    const f = this.version === 2 ? join(this.dirs[0]!, "memory.events") : join(this.dirs[1]!, "memory.oom_control");
    try {
      return Number(/oom_kill (\d+)/.exec(readFileSync(f, "utf8"))?.[1] ?? 0);
    } catch {
      return NaN;
    }
  }

  /** Removes the group; its processes must have exited (rmdir fails on a populated group). */
  destroy(): void {
    for (const d of this.dirs.reverse()) {
      for (let i = 0; i < 20; i++) {
        try {
          if (existsSync(d)) rmdirSync(d);
          break;
        } catch {
          // A process that just exited may still be charged for a moment.
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
        }
      }
    }
  }
}
