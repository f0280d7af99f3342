/**
 * Option 121, classless static routes (RFC 3442 §3). Each route is: width of the subnet
 * mask (0–32), only the significant octets of the destination (ceil(width/8)), then the
 * 4-byte router. The NGN uses it to reach its own prefixes through the /30 peer.
 */
import { ipv4At, ipv4Bytes } from "./codec.js";

export const OPT_CLASSLESS_ROUTES = 121;

export interface StaticRoute {
  destination: string;
  prefix: number;
  gateway: string;
}

export function decodeClasslessRoutes(v: Buffer, problems: string[]): StaticRoute[] {
  const routes: StaticRoute[] = [];
  let i = 0;
  while (i < v.length) {
    const width = v[i]!;
    if (width > 32) {
      problems.push(`option 121: mask width ${width} > 32; rest ignored`);
      break;
    }
    const sig = Math.ceil(width / 8);
    if (i + 1 + sig + 4 > v.length) {
      problems.push(`option 121: route at ${i} truncated; rest ignored`);
      break;
    }
    const dest = Buffer.alloc(4);
    v.copy(dest, 0, i + 1, i + 1 + sig);
    // §3: bits past the mask width must be zero; clear them rather than trust the server.
    const masked = width === 0 ? 0 : (dest.readUInt32BE(0) & (0xffffffff << (32 - width))) >>> 0;
    dest.writeUInt32BE(masked, 0);
    routes.push({ destination: ipv4At(dest), prefix: width, gateway: ipv4At(v, i + 1 + sig) });
    i += 1 + sig + 4;
  }
  return routes;
}

export function encodeClasslessRoutes(routes: StaticRoute[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of routes) {
    const sig = Math.ceil(r.prefix / 8);
    parts.push(Buffer.from([r.prefix]), ipv4Bytes(r.destination).subarray(0, sig), ipv4Bytes(r.gateway));
  }
  return Buffer.concat(parts);
}
