/**
 * The lease: what the client keeps from a DHCPACK, in plain JSON-able data (snake_case like
 * the config and the `hikari-gw dhcp` output), saved in state_dir for INIT-REBOOT, and how
 * it maps to trunk parameters (docs/ngn.md "DHCP": option 120 = P-CSCF, option 125 enterprise 210:
 * 202 main number, 203 additional numbers, 204 SIP domain in DNS label form).
 */
import { ipv4ListOption, u32Option, type DhcpOptions } from "./options/codec.js";
import { decodeClasslessRoutes, OPT_CLASSLESS_ROUTES, type StaticRoute } from "./options/classless-routes.js";
import { readDnsName } from "./options/dns-labels.js";
import { decodeSipServers, OPT_SIP_SERVERS } from "./options/sip-servers.js";
import { decodeVendorSpecific, OPT_VI_VENDOR_SPECIFIC } from "./options/vendor.js";
import { OPT_LEASE_TIME, OPT_ROUTER, OPT_SERVER_ID, OPT_SUBNET_MASK, OPT_T1, OPT_T2, type DhcpMessage } from "./packet.js";

export type { StaticRoute } from "./options/classless-routes.js";

export interface VendorSubOptionHex {
  code: number;
  /** Raw bytes as lowercase hex. */
  hex: string;
}

export interface VendorOptions {
  enterprise: number;
  sub_options: VendorSubOptionHex[];
}

export interface Lease {
  interface: string;
  address: string;
  prefix: number;
  router?: string;
  /** Seconds; 0xffffffff = infinite (RFC 2131 §3.3). */
  lease_time: number;
  t1: number;
  t2: number;
  server_id: string;
  /** Epoch ms when the REQUEST that got this lease was sent (RFC 2131 §4.4.1). */
  acquired_at: number;
  routes: StaticRoute[];
  sip_servers: string[];
  sip_servers_encoding?: "domain" | "ipv4";
  vendor_options: VendorOptions[];
  /** Every option of the ACK as hex, for diagnostics and for `changed` comparisons. */
  raw_options: Record<string, string>;
}

export const INFINITE_LEASE = 0xffffffff;

function prefixFromMask(mask: string): number | undefined {
  const n = mask.split(".").reduce((a, o) => ((a << 8) | Number(o)) >>> 0, 0);
  let p = 0;
  while (p < 32 && (n & (0x80000000 >>> p)) !== 0) p++;
  // Valid masks are contiguous ones from the top.
  const back = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
  return back === n ? p : undefined;
}

/** Build a Lease from a DHCPACK; null (with problems) if the ACK lacks an address. */
export function leaseFromAck(ack: DhcpMessage, iface: string, acquiredAt: number, problems: string[], fallbackServer?: string): Lease | null {
  const o: DhcpOptions = ack.options;
  if (ack.yiaddr === "0.0.0.0") {
    problems.push("ACK without yiaddr");
    return null;
  }
  const serverId = ipv4ListOption(o, OPT_SERVER_ID, problems)?.[0] ?? fallbackServer;
  if (!serverId) {
    problems.push("ACK without server identifier (54)");
    return null;
  }
  let leaseTime = u32Option(o, OPT_LEASE_TIME, problems);
  if (leaseTime === undefined) {
    problems.push("ACK without lease time (51); assuming 3600 s");
    leaseTime = 3600;
  }
  // RFC 2131 §4.4.5 defaults: T1 = 0.5 × lease, T2 = 0.875 × lease; keep T1 ≤ T2 ≤ lease.
  let t1 = u32Option(o, OPT_T1, problems) ?? Math.floor(leaseTime * 0.5);
  let t2 = u32Option(o, OPT_T2, problems) ?? Math.floor(leaseTime * 0.875);
  if (leaseTime !== INFINITE_LEASE) {
    if (t2 > leaseTime) t2 = Math.floor(leaseTime * 0.875);
    if (t1 > t2) t1 = Math.floor(t2 * (0.5 / 0.875));
  }
  const mask = ipv4ListOption(o, OPT_SUBNET_MASK, problems)?.[0];
  let prefix = mask ? prefixFromMask(mask) : undefined;
  if (mask && prefix === undefined) problems.push(`option 1: non-contiguous mask ${mask}`);
  prefix ??= 32;
  const sip = o.has(OPT_SIP_SERVERS) ? decodeSipServers(o.get(OPT_SIP_SERVERS)!, problems) : undefined;
  const raw: Record<string, string> = {};
  for (const [code, v] of o) raw[String(code)] = v.toString("hex");
  const lease: Lease = {
    interface: iface,
    address: ack.yiaddr,
    prefix,
    lease_time: leaseTime,
    t1,
    t2,
    server_id: serverId,
    acquired_at: acquiredAt,
    routes: o.has(OPT_CLASSLESS_ROUTES) ? decodeClasslessRoutes(o.get(OPT_CLASSLESS_ROUTES)!, problems) : [],
    sip_servers: sip?.servers ?? [],
    vendor_options: o.has(OPT_VI_VENDOR_SPECIFIC)
      ? decodeVendorSpecific(o.get(OPT_VI_VENDOR_SPECIFIC)!, problems).map((b) => ({
          enterprise: b.enterprise,
          sub_options: b.subOptions.map((s) => ({ code: s.code, hex: s.data.toString("hex") })),
        }))
      : [],
    raw_options: raw,
  };
  const router = ipv4ListOption(o, OPT_ROUTER, problems)?.[0];
  if (router) lease.router = router;
  if (sip) lease.sip_servers_encoding = sip.encoding;
  return lease;
}

/** Whether a renewal kept everything the trunk and the interface depend on. */
export function sameParameters(a: Lease | null, b: Lease): boolean {
  if (!a) return false;
  const key = (l: Lease) => JSON.stringify([l.address, l.prefix, l.router ?? null, l.routes, l.sip_servers, l.vendor_options]);
  return key(a) === key(b);
}

/** Epoch ms at which the lease runs out (Infinity for an infinite lease). */
export function leaseExpiresAt(l: Lease): number {
  return l.lease_time === INFINITE_LEASE ? Infinity : l.acquired_at + l.lease_time * 1000;
}

export interface TrunkParamsOptions {
  enterprise?: number;
  numberCode?: number;
  additionalCode?: number;
  domainCode?: number;
}

export interface TrunkParams {
  server?: string;
  domain?: string;
  number?: string;
  additional_numbers: string[];
}

/** Printable ASCII only: a number from the wire must not smuggle control bytes into SIP. */
function asciiValue(hex: string): string | undefined {
  const s = Buffer.from(hex, "hex").toString("latin1");
  return /^[\x21-\x7e]+$/.test(s) ? s : undefined;
}

/**
 * Map a lease to trunk parameters. Sub-option 204 is DNS label form per docs/ngn.md "DHCP"; a value
 * that is not valid label form but is printable text is accepted as a plain name, since
 * some lab servers and some lines send it that way.
 */
export function trunkParamsFromLease(lease: Lease, opts: TrunkParamsOptions = {}): TrunkParams {
  const { enterprise = 210, numberCode = 202, additionalCode = 203, domainCode = 204 } = opts;
  const out: TrunkParams = { additional_numbers: [] };
  if (lease.sip_servers[0]) out.server = lease.sip_servers[0];
  const block = lease.vendor_options.filter((b) => b.enterprise === enterprise).flatMap((b) => b.sub_options);
  for (const s of block) {
    if (s.code === numberCode && out.number === undefined) {
      const v = asciiValue(s.hex);
      if (v) out.number = v;
    } else if (s.code === additionalCode) {
      const v = asciiValue(s.hex);
      if (v) out.additional_numbers.push(v);
    } else if (s.code === domainCode && out.domain === undefined) {
      const buf = Buffer.from(s.hex, "hex");
      const r = readDnsName(buf, 0, []);
      if (r && r.name.length > 0 && r.next === buf.length) out.domain = r.name;
      else {
        const v = asciiValue(s.hex);
        if (v) out.domain = v;
      }
    }
  }
  return out;
}
