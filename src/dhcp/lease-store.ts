/**
 * The saved lease in state_dir, for INIT-REBOOT after a restart (RFC 2131 §3.2, §4.4.2).
 * One JSON file per interface, written atomically (temp file + rename) so a crash mid-write
 * never leaves half a lease.
 */
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Lease } from "./lease.js";

export class LeaseStore {
  constructor(private readonly stateDir: string) {}

  private file(iface: string): string {
    return join(this.stateDir, `dhcp-${iface.replace(/[^A-Za-z0-9_.-]/g, "_")}.json`);
  }

  async load(iface: string): Promise<Lease | null> {
    try {
      const data = JSON.parse(await readFile(this.file(iface), "utf8")) as Partial<Lease>;
      if (typeof data.address !== "string" || typeof data.acquired_at !== "number" || typeof data.lease_time !== "number" || data.interface !== iface) return null;
      return data as Lease;
    } catch {
      return null; // missing or corrupt: start from INIT
    }
  }

  async save(lease: Lease): Promise<void> {
    await mkdir(this.stateDir, { recursive: true });
    const f = this.file(lease.interface);
    const tmp = `${f}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(lease, null, 2));
    await rename(tmp, f);
  }

  async clear(iface: string): Promise<void> {
    await rm(this.file(iface), { force: true });
  }
}
