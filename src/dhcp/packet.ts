/**
 * DHCP message codec (RFC 2131 §2, fixed BOOTP header + option area from RFC 2132).
 *
 * decodeDhcpMessage() never throws: anything malformed lands in `problems`. A message is
 * rejected (null) only when the fixed header or the magic cookie is missing; bad options are
 * skipped. Option overload (52, RFC 2132 §9.3) is honoured in the order RFC 2131 §4.1 gives:
 * options, then `file`, then `sname`.
 */
import { decodeOptionArea, encodeOptionArea, ipv4At, ipv4Bytes, type DhcpOptions } from "./options/codec.js";

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const MAGIC_COOKIE = 0x63825363;
const HEADER_LEN = 236;
/** RFC 1542 §3.3 / RFC 2131 §2: a BOOTP message is at least 300 bytes; short ones get padded. */
const MIN_MESSAGE = 300;
export const BROADCAST_FLAG = 0x8000;

export const OPT_SUBNET_MASK = 1;
export const OPT_ROUTER = 3;
export const OPT_HOSTNAME = 12;
export const OPT_REQUESTED_IP = 50;
export const OPT_LEASE_TIME = 51;
export const OPT_OVERLOAD = 52;
export const OPT_MESSAGE_TYPE = 53;
export const OPT_SERVER_ID = 54;
export const OPT_PARAM_REQUEST = 55;
export const OPT_MESSAGE = 56;
export const OPT_MAX_SIZE = 57;
export const OPT_T1 = 58;
export const OPT_T2 = 59;
export const OPT_VENDOR_CLASS_ID = 60;
export const OPT_CLIENT_ID = 61;

/** RFC 2132 §9.6 message types. */
export const DhcpMessageType = {
  discover: 1,
  offer: 2,
  request: 3,
  decline: 4,
  ack: 5,
  nak: 6,
  release: 7,
  inform: 8,
} as const;
export type DhcpMessageTypeName = keyof typeof DhcpMessageType;

export interface DhcpMessage {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** 16 bytes; the first `hlen` are the hardware address. */
  chaddr: Buffer;
  sname: Buffer;
  file: Buffer;
  options: DhcpOptions;
}

export interface DhcpDecodeResult {
  message: DhcpMessage | null;
  problems: string[];
}

export function decodeDhcpMessage(buf: Buffer): DhcpDecodeResult {
  const problems: string[] = [];
  if (buf.length < HEADER_LEN + 4) {
    problems.push(`message of ${buf.length} bytes is shorter than the BOOTP header`);
    return { message: null, problems };
  }
  if (buf.readUInt32BE(HEADER_LEN) !== MAGIC_COOKIE) {
    problems.push("no DHCP magic cookie");
    return { message: null, problems };
  }
  const options: DhcpOptions = new Map();
  decodeOptionArea(buf.subarray(HEADER_LEN + 4), options, problems, "options");
  const sname = Buffer.from(buf.subarray(44, 108));
  const file = Buffer.from(buf.subarray(108, 236));
  const overload = options.get(OPT_OVERLOAD);
  if (overload) {
    const o = overload.length === 1 ? overload[0]! : 0;
    if (o < 1 || o > 3) problems.push(`option 52: bad overload value`);
    else {
      options.delete(OPT_OVERLOAD);
      if (o & 1) decodeOptionArea(file, options, problems, "file");
      if (o & 2) decodeOptionArea(sname, options, problems, "sname");
    }
  }
  const message: DhcpMessage = {
    op: buf[0]!,
    htype: buf[1]!,
    hlen: buf[2]!,
    hops: buf[3]!,
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: ipv4At(buf, 12),
    yiaddr: ipv4At(buf, 16),
    siaddr: ipv4At(buf, 20),
    giaddr: ipv4At(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 44)),
    sname,
    file,
    options,
  };
  return { message, problems };
}

export function encodeDhcpMessage(m: DhcpMessage): Buffer {
  const head = Buffer.alloc(HEADER_LEN + 4);
  head[0] = m.op;
  head[1] = m.htype;
  head[2] = m.hlen;
  head[3] = m.hops;
  head.writeUInt32BE(m.xid >>> 0, 4);
  head.writeUInt16BE(m.secs & 0xffff, 8);
  head.writeUInt16BE(m.flags & 0xffff, 10);
  ipv4Bytes(m.ciaddr).copy(head, 12);
  ipv4Bytes(m.yiaddr).copy(head, 16);
  ipv4Bytes(m.siaddr).copy(head, 20);
  ipv4Bytes(m.giaddr).copy(head, 24);
  m.chaddr.copy(head, 28, 0, Math.min(16, m.chaddr.length));
  m.sname.copy(head, 44, 0, Math.min(64, m.sname.length));
  m.file.copy(head, 108, 0, Math.min(128, m.file.length));
  head.writeUInt32BE(MAGIC_COOKIE, HEADER_LEN);
  const opts = encodeOptionArea(m.options);
  const out = Buffer.concat([head, opts]);
  return out.length >= MIN_MESSAGE ? out : Buffer.concat([out, Buffer.alloc(MIN_MESSAGE - out.length)]);
}

/** The message type (option 53), or undefined when absent/bad. */
export function messageType(m: DhcpMessage): number | undefined {
  const v = m.options.get(OPT_MESSAGE_TYPE);
  return v && v.length === 1 ? v[0] : undefined;
}

export function messageTypeName(t: number | undefined): string {
  const e = Object.entries(DhcpMessageType).find(([, v]) => v === t);
  return e ? e[0].toUpperCase() : `type-${t}`;
}

/** A blank BOOTREQUEST for `mac`, ready for options. */
export function newRequest(xid: number, mac: Buffer): DhcpMessage {
  const chaddr = Buffer.alloc(16);
  mac.copy(chaddr, 0, 0, Math.min(16, mac.length));
  return {
    op: BOOTREQUEST,
    htype: 1, // Ethernet (RFC 1700 ARP hardware type)
    hlen: Math.min(16, mac.length),
    hops: 0,
    xid,
    secs: 0,
    flags: 0,
    ciaddr: "0.0.0.0",
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr: "0.0.0.0",
    chaddr,
    sname: Buffer.alloc(64),
    file: Buffer.alloc(128),
    options: new Map(),
  };
}
