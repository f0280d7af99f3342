/**
 * The tunnel subnet: the gateway takes the first host address, phones the next free ones.
 */
export interface Subnet {
  network: number;
  prefix: number;
}

export function parseSubnet(s: string): Subnet {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(s);
  if (!m) throw new Error(`not an IPv4 subnet: ${s}`);
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) throw new Error(`not an IPv4 subnet: ${s}`);
  const prefix = Number(m[5]);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const ip = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  return { network: (ip & mask) >>> 0, prefix };
}

export const ipToString = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");

export function ipToNumber(s: string): number {
  const o = s.split(".").map(Number);
  return ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
}

export function gatewayAddress(sub: Subnet): string {
  return ipToString(sub.network + 1);
}

/** The lowest host address not in `used` (and not the gateway's), or an error when full. */
export function nextFreeAddress(sub: Subnet, used: Iterable<string>): string {
  const taken = new Set([...used].map(ipToNumber));
  const size = 2 ** (32 - sub.prefix);
  for (let i = 2; i < size - 1; i++) {
    const a = sub.network + i;
    if (!taken.has(a)) return ipToString(a);
  }
  throw new Error(`the tunnel subnet ${ipToString(sub.network)}/${sub.prefix} is full`);
}
