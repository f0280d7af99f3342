/**
 * IPv4 + UDP framing for the raw transport (RFC 791 §3.1, RFC 768). Before the client has
 * an address the kernel's UDP stack cannot send from 0.0.0.0:68 on one chosen interface, so
 * the raw transport writes the headers itself (IP_HDRINCL) and reads whole IP packets.
 */
import { ipv4At, ipv4Bytes } from "./options/codec.js";

export const IPPROTO_UDP = 17;

/** Internet checksum (RFC 1071) over the concatenation of the buffers. */
export function internetChecksum(...bufs: Buffer[]): number {
  let sum = 0;
  let odd: number | null = null;
  for (const b of bufs) {
    for (let i = 0; i < b.length; i++) {
      if (odd === null) odd = b[i]!;
      else {
        sum += (odd << 8) | b[i]!;
        odd = null;
      }
    }
  }
  if (odd !== null) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface UdpDatagram {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload: Buffer;
}

/**
 * @param udpChecksum false sends UDP checksum 0 ("none", RFC 768), which stays valid if a
 *   netfilter rule later rewrites the source address (see raw-transport.ts).
 */
export function buildIpUdp(d: UdpDatagram, ipId = 0, udpChecksum = true): Buffer {
  const udpLen = 8 + d.payload.length;
  const ip = Buffer.alloc(20);
  ip[0] = 0x45; // version 4, IHL 5
  ip[1] = 0x10; // TOS: low delay, as dhclient and the ISC client send
  ip.writeUInt16BE(20 + udpLen, 2);
  ip.writeUInt16BE(ipId & 0xffff, 4);
  ip[8] = 64; // TTL
  ip[9] = IPPROTO_UDP;
  ipv4Bytes(d.src).copy(ip, 12);
  ipv4Bytes(d.dst).copy(ip, 16);
  ip.writeUInt16BE(internetChecksum(ip), 10);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(d.sport, 0);
  udp.writeUInt16BE(d.dport, 2);
  udp.writeUInt16BE(udpLen, 4);
  const pseudo = Buffer.alloc(12);
  ip.copy(pseudo, 0, 12, 20);
  pseudo[9] = IPPROTO_UDP;
  pseudo.writeUInt16BE(udpLen, 10);
  // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
  if (udpChecksum) udp.writeUInt16BE(internetChecksum(pseudo, udp, d.payload) || 0xffff, 6);
  return Buffer.concat([ip, udp, d.payload]);
}

/**
 * Parse an IPv4 packet carrying UDP; null for anything else or anything inconsistent.
 * The UDP checksum is not verified: packets looped over veth or offloaded NICs reach raw
 * sockets with only the pseudo-header sum filled in (CHECKSUM_PARTIAL), which would fail.
 */
export function parseIpUdp(buf: Buffer): UdpDatagram | null {
  if (buf.length < 28 || buf[0]! >> 4 !== 4) return null;
  const ihl = (buf[0]! & 0x0f) * 4;
  if (ihl < 20 || buf.length < ihl + 8 || buf[9] !== IPPROTO_UDP) return null;
  const totalLen = buf.readUInt16BE(2);
  if (totalLen < ihl + 8 || totalLen > buf.length) return null;
  // A fragment (MF set or offset != 0) is not a whole DHCP message: drop it.
  if ((buf.readUInt16BE(6) & 0x3fff) !== 0) return null;
  const udpLen = buf.readUInt16BE(ihl + 4);
  if (udpLen < 8 || ihl + udpLen > totalLen) return null;
  return {
    src: ipv4At(buf, 12),
    dst: ipv4At(buf, 16),
    sport: buf.readUInt16BE(ihl),
    dport: buf.readUInt16BE(ihl + 2),
    payload: buf.subarray(ihl + 8, ihl + udpLen),
  };
}
