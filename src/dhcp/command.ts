/**
 * `hikari-gw dhcp --interface IF [--json] [--keep]` (docs/design.md "Command line"): take a lease on IF, print
 * it decoded, then release it unless --keep. Without --keep the interface is left alone
 * (the lease is only looked at); with --keep the address and option 121 routes are applied
 * and stay, like `dhclient` would leave them.
 */
import type { Logger } from "../log.js";
import { DhcpClient } from "./client.js";
import { trunkParamsFromLease, type Lease } from "./lease.js";

export interface DhcpCommandOptions {
  interface: string;
  json: boolean;
  keep: boolean;
  mac?: string;
  stateDir?: string;
  timeoutMs?: number;
  log: Logger;
}

/** The printed form: docs/design.md's keys first, then timers and raw vendor sub-options. */
export function leaseReport(lease: Lease): Record<string, unknown> {
  const trunk = trunkParamsFromLease(lease);
  return {
    interface: lease.interface,
    address: lease.address,
    prefix: lease.prefix,
    router: lease.router ?? null,
    lease_time: lease.lease_time,
    t1: lease.t1,
    t2: lease.t2,
    server_id: lease.server_id,
    routes: lease.routes,
    sip_servers: lease.sip_servers,
    domain: trunk.domain ?? null,
    number: trunk.number ?? null,
    additional_numbers: trunk.additional_numbers,
    vendor_options: lease.vendor_options.map((b) => ({
      enterprise: b.enterprise,
      sub_options: b.sub_options.map((s) => {
        const text = Buffer.from(s.hex, "hex").toString("latin1");
        return /^[\x20-\x7e]+$/.test(text) ? { ...s, text } : s;
      }),
    })),
  };
}

function human(r: Record<string, unknown>): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(r)) {
    if (k === "routes") for (const rt of v as Lease["routes"]) lines.push(`route: ${rt.destination}/${rt.prefix} via ${rt.gateway}`);
    else if (k === "vendor_options")
      for (const b of v as { enterprise: number; sub_options: { code: number; hex: string; text?: string }[] }[])
        for (const s of b.sub_options) lines.push(`vendor ${b.enterprise} sub-option ${s.code}: ${s.hex}${s.text ? ` (${JSON.stringify(s.text)})` : ""}`);
    else lines.push(`${k}: ${Array.isArray(v) ? v.join(", ") : String(v ?? "")}`);
  }
  return lines.join("\n") + "\n";
}

export async function dhcpCommand(opts: DhcpCommandOptions): Promise<number> {
  const client = new DhcpClient({
    interface: opts.interface,
    mac: opts.mac,
    stateDir: opts.stateDir,
    applyToInterface: opts.keep,
    log: opts.log,
  });
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const got = new Promise<Lease>((resolve, reject) => {
      client.once("bound", resolve);
      timer = setTimeout(() => reject(new Error(`no lease on ${opts.interface} within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    await client.start();
    const lease = await got;
    const report = leaseReport(lease);
    process.stdout.write(opts.json ? JSON.stringify(report) + "\n" : human(report));
    await client.stop({ release: !opts.keep });
    return 0;
  } catch (e) {
    process.stderr.write(`dhcp: ${(e as Error).message}\n`);
    await client.stop({ release: false }).catch(() => undefined);
    return 1;
  } finally {
    clearTimeout(timer);
  }
}
