/**
 * The SIP lab's hosts: a gateway namespace with a bridge (198.18.2.1/24) and one namespace per
 * phone (198.18.2.11, .12, ...), each joined to the bridge by a veth pair. One L2 segment, no
 * routes to add, nothing outside 198.18.0.0/15 (RFC 2544).
 */
import { execFileSync } from "node:child_process";
import type { Lab } from "../netns.js";

export const SIP_LAB_PREFIX = "hgwsip";
export const GATEWAY_ADDR = "198.18.2.1";

export interface Phone {
  number: string;
  password: string;
  /** host name inside the Lab (namespace `hgwsip-<host>`) */
  host: string;
  addr: string;
}

export interface SipLab {
  gatewayHost: string;
  gatewayAddr: string;
  phones: Phone[];
}

/** Another lab file's copy of this topology: its own /24 and veth names, so the files never collide. */
export interface SipLabShape {
  /** The first three octets of the /24, e.g. "198.18.12": the gateway is .1, phones .11 up. */
  subnet: string;
  /** Three letters in the veth names (made in the root namespace: unique per lab file). */
  vethTag: string;
  /** Drop the phones' ICMP port-unreachable (SIPp's -rtp_echo needs it; see below). */
  dropUnreachable: boolean;
}

const SIP_LAB_SHAPE: SipLabShape = { subnet: "198.18.2", vethTag: "hgs", dropUnreachable: true };

export function buildSipLab(lab: Lab, numbers: string[] = ["801", "802"], shape: SipLabShape = SIP_LAB_SHAPE): SipLab {
  const gatewayHost = "gw";
  const gatewayAddr = `${shape.subnet}.1`;
  lab.addHost(gatewayHost);
  lab.exec(gatewayHost, "ip", ["link", "add", "br0", "type", "bridge"]);
  lab.exec(gatewayHost, "ip", ["addr", "add", `${gatewayAddr}/24`, "dev", "br0"]);
  lab.exec(gatewayHost, "ip", ["link", "set", "br0", "up"]);
  const phones: Phone[] = numbers.map((number, i) => {
    // A second device on the same number (forking) gets a letter: p801, p801c.
    const tag = numbers.indexOf(number) === i ? number : `${number}${String.fromCharCode(97 + i)}`;
    const host = `p${tag}`;
    const addr = `${shape.subnet}.${11 + i}`;
    lab.addHost(host);
    // veth names are created in the root namespace first: keep them short and unique per run.
    const gwEnd = `${shape.vethTag}${tag}g${process.pid % 1000}`;
    const phoneEnd = `${shape.vethTag}${tag}p${process.pid % 1000}`;
    execFileSync("ip", ["link", "add", gwEnd, "type", "veth", "peer", "name", phoneEnd]);
    execFileSync("ip", ["link", "set", gwEnd, "netns", lab.ns(gatewayHost)]);
    execFileSync("ip", ["link", "set", phoneEnd, "netns", lab.ns(host)]);
    lab.exec(gatewayHost, "ip", ["link", "set", gwEnd, "master", "br0"]);
    lab.exec(gatewayHost, "ip", ["link", "set", gwEnd, "up"]);
    lab.exec(host, "ip", ["link", "set", phoneEnd, "name", "eth0"]);
    lab.exec(host, "ip", ["addr", "add", `${addr}/24`, "dev", "eth0"]);
    lab.exec(host, "ip", ["link", "set", "eth0", "up"]);
    if (shape.dropUnreachable) {
      // SIPp's -rtp_echo listens on the media port and port+2, not on RTCP's port+1: the ICMP
      // port-unreachable it would send back makes a peer (baresip) end its call with ECONNRESET.
      lab.exec(host, "nft", ["add", "table", "inet", "lab"]);
      lab.exec(host, "nft", ["add", "chain", "inet", "lab", "out", "{ type filter hook output priority 0; }"]);
      lab.exec(host, "nft", ["add", "rule", "inet", "lab", "out", "icmp", "type", "destination-unreachable", "drop"]);
    }
    return { number, password: `secret${number}`, host, addr };
  });
  return { gatewayHost, gatewayAddr, phones };
}
