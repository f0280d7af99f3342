/**
 * Option 120, SIP servers (RFC 3361 §3). The first byte is the encoding, not a count:
 * 0 = a list of domain names in DNS label form (§3.1), 1 = a list of IPv4 addresses (§3.2).
 * One open-source client read that byte as an address count; docs/ngn.md "DHCP" warns against it.
 */
import { ipv4At, ipv4Bytes } from "./codec.js";
import { encodeDnsName, readDnsNameList } from "./dns-labels.js";

export const OPT_SIP_SERVERS = 120;

export type SipServers = { encoding: "domain"; servers: string[] } | { encoding: "ipv4"; servers: string[] };

export function decodeSipServers(v: Buffer, problems: string[]): SipServers | undefined {
  if (v.length < 2) {
    problems.push(`option 120: length ${v.length} too short`);
    return undefined;
  }
  const enc = v[0]!;
  const body = v.subarray(1);
  if (enc === 0) {
    const servers = readDnsNameList(body, problems);
    return servers.length > 0 ? { encoding: "domain", servers } : undefined;
  }
  if (enc === 1) {
    if (body.length % 4 !== 0) problems.push(`option 120: ${body.length} address bytes, not a multiple of 4; extra bytes ignored`);
    const servers: string[] = [];
    for (let i = 0; i + 4 <= body.length; i += 4) servers.push(ipv4At(body, i));
    return servers.length > 0 ? { encoding: "ipv4", servers } : undefined;
  }
  // §3: "any other value … the option MUST be ignored".
  problems.push(`option 120: unknown encoding ${enc}`);
  return undefined;
}

export function encodeSipServers(s: SipServers): Buffer {
  if (s.encoding === "ipv4") return Buffer.concat([Buffer.from([1]), ...s.servers.map(ipv4Bytes)]);
  return Buffer.concat([Buffer.from([0]), ...s.servers.map(encodeDnsName)]);
}
