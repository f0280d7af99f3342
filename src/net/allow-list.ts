/**
 * Which source addresses may reach a listener: networks in CIDR form, checked with Node's
 * own net.BlockList (used here as an allow list). Used for `lan.allow`: by default the
 * subnets of the interfaces the LAN listener is on, plus loopback, and never the WAN
 * interface's (the line's side must not reach the PBX).
 */
import { BlockList, isIP } from "node:net";
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";

export interface Cidr {
  address: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

/** "10.8.0.0/24", "fd00::/8", or a bare address (a host: /32 or /128). Undefined when malformed. */
export function parseCidr(s: string): Cidr | undefined {
  const [address, bits, extra] = s.trim().split("/");
  if (extra !== undefined || !address) return undefined;
  const v = isIP(address);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return undefined;
  return { address, prefix, family: v === 4 ? "ipv4" : "ipv6" };
}

/**
 * Addresses whose answer is remembered: a home's phones and peers are a handful, so every
 * datagram but the first from each is a Map lookup instead of BlockList.check (which builds a
 * SocketAddress each time: 2 % of the CPU at 400 calls/s). A flood from many sources only
 * refills it (cleared when full), so it stays bounded.
 */
const MEMO_SIZE = 256;

export class AllowList {
  private readonly list = new BlockList();
  private readonly memo = new Map<string, boolean>();

  /** Throws on a malformed entry (the config schema has checked them already). */
  constructor(readonly networks: readonly string[]) {
    for (const n of networks) {
      const c = parseCidr(n);
      if (!c) throw new Error(`not a network: ${n}`);
      this.list.addSubnet(c.address, c.prefix, c.family);
    }
  }

  allows(address: string): boolean {
    const known = this.memo.get(address);
    if (known !== undefined) return known;
    const ok = this.check(address);
    if (this.memo.size >= MEMO_SIZE) this.memo.clear();
    this.memo.set(address, ok);
    return ok;
  }

  private check(address: string): boolean {
    // udp4 sockets report plain IPv4; a dual-stack one may hand over ::ffff:a.b.c.d.
    const a = address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const v = isIP(a);
    return v !== 0 && this.list.check(a, v === 4 ? "ipv4" : "ipv6");
  }
}

/** The network of an interface address in CIDR form ("192.168.1.7/24" → "192.168.1.0/24"). */
function networkOf(info: NetworkInterfaceInfo): string | undefined {
  if (!info.cidr) return undefined;
  const c = parseCidr(info.cidr);
  if (!c || c.family !== "ipv4") return info.cidr;
  const n = c.address.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  const mask = c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join(".")}/${c.prefix}`;
}

/**
 * The default `lan.allow`: loopback, plus the subnets of the interfaces the LAN listener
 * serves: every interface but the WAN one when it listens on 0.0.0.0 (or ::), else the
 * interface holding the listen address. Read once at start: a VPN interface that comes up
 * later needs `lan.allow` written out.
 */
export function defaultLanNetworks(listen: string, wanInterface: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string[] {
  const out = new Set<string>(["127.0.0.0/8", "::1/128"]);
  const wildcard = listen === "0.0.0.0" || listen === "::";
  for (const [name, infos] of Object.entries(interfaces)) {
    if (name === wanInterface || !infos) continue;
    if (!wildcard && !infos.some((i) => i.address === listen)) continue;
    for (const i of infos) {
      if (i.internal) continue;
      const n = networkOf(i);
      if (n) out.add(n);
    }
  }
  return [...out];
}
