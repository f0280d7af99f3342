/**
 * The messages the client sends (RFC 2131 §4.4.1 table 5), carrying what the line's own home
 * gateway sends (docs/ngn.md "DHCP"): option 55 asking for at least 1, 3, 120, 121, 125; option 124 =
 * enterprise 210 with one class item holding the MAC; option 61 = type 1 + MAC.
 */
import { encodeVendorClass, OPT_VI_VENDOR_CLASS } from "./options/vendor.js";
import { ipv4Bytes } from "./options/codec.js";
import {
  BROADCAST_FLAG,
  DhcpMessageType,
  newRequest,
  OPT_CLIENT_ID,
  OPT_MAX_SIZE,
  OPT_MESSAGE_TYPE,
  OPT_PARAM_REQUEST,
  OPT_REQUESTED_IP,
  OPT_SERVER_ID,
  OPT_VENDOR_CLASS_ID,
  type DhcpMessage,
} from "./packet.js";

/** 1 mask, 3 router, 51/58/59 timers, 120 SIP servers, 121 routes, 125 V-I vendor info. */
export const DEFAULT_REQUEST_OPTIONS = [1, 3, 51, 58, 59, 120, 121, 125];
export const NTT_ENTERPRISE = 210;

export interface ClientIdentity {
  /** The MAC put in chaddr, 61 and 124 (the interface's own, or the override). */
  mac: Buffer;
  requestOptions: number[];
  /** Option 60 text; absent by default (docs/ngn.md "DHCP": not needed on most lines). */
  vendorClass?: string;
  /** Enterprise number sent in option 124; null = do not send 124. */
  enterprise: number | null;
}

export type RequestKind =
  | { type: "discover" }
  | { type: "request-selecting"; requestedIp: string; serverId: string }
  | { type: "request-init-reboot"; requestedIp: string }
  | { type: "request-renewing"; ciaddr: string }
  | { type: "request-rebinding"; ciaddr: string }
  | { type: "release"; ciaddr: string; serverId: string };

export function buildClientMessage(id: ClientIdentity, kind: RequestKind, xid: number, secs: number): DhcpMessage {
  const m = newRequest(xid, id.mac);
  m.secs = Math.min(0xffff, Math.max(0, Math.floor(secs)));
  const o = m.options;
  const typeCode =
    kind.type === "discover" ? DhcpMessageType.discover : kind.type === "release" ? DhcpMessageType.release : DhcpMessageType.request;
  o.set(OPT_MESSAGE_TYPE, Buffer.from([typeCode]));
  // §4.1: until the client has an address it cannot take unicast, so ask for broadcast.
  if (kind.type === "discover" || kind.type === "request-selecting" || kind.type === "request-init-reboot") m.flags = BROADCAST_FLAG;
  if (kind.type === "request-renewing" || kind.type === "request-rebinding" || kind.type === "release") m.ciaddr = kind.ciaddr;
  if (kind.type === "request-selecting" || kind.type === "request-init-reboot") o.set(OPT_REQUESTED_IP, ipv4Bytes(kind.requestedIp));
  if (kind.type === "request-selecting" || kind.type === "release") o.set(OPT_SERVER_ID, ipv4Bytes(kind.serverId));
  o.set(OPT_CLIENT_ID, Buffer.concat([Buffer.from([1]), id.mac]));
  if (kind.type === "release") return m; // §4.4.1 table 5: no 55/57/60 in a RELEASE
  const max = Buffer.alloc(2);
  max.writeUInt16BE(1500 - 28, 0); // RFC 2132 §9.10: what fits in one Ethernet frame
  o.set(OPT_MAX_SIZE, max);
  if (id.vendorClass) o.set(OPT_VENDOR_CLASS_ID, Buffer.from(id.vendorClass, "utf8"));
  if (id.requestOptions.length > 0) o.set(OPT_PARAM_REQUEST, Buffer.from(id.requestOptions.filter((c) => c > 0 && c < 255)));
  if (id.enterprise !== null) o.set(OPT_VI_VENDOR_CLASS, encodeVendorClass([{ enterprise: id.enterprise, items: [id.mac] }]));
  return m;
}
