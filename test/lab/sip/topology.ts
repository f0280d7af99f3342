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

export function buildSipLab(lab: Lab, numbers: string[] = ["801", "802"]): SipLab {
  const gatewayHost = "gw";
  lab.addHost(gatewayHost);
  lab.exec(gatewayHost, "ip", ["link", "add", "br0", "type", "bridge"]);
  lab.exec(gatewayHost, "ip", ["addr", "add", `${GATEWAY_ADDR}/24`, "dev", "br0"]);
  lab.exec(gatewayHost, "ip", ["link", "set", "br0", "up"]);
  const phones: Phone[] = numbers.map((number, i) => {
    const host = `p${number}`;
    const addr = `198.18.2.${11 + i}`;
    lab.addHost(host);
    // veth names are created in the root namespace first: keep them short and unique per run.
    const gwEnd = `hgs${number}g${process.pid % 1000}`;
    const phoneEnd = `hgs${number}p${process.pid % 1000}`;
    execFileSync("ip", ["link", "add", gwEnd, "type", "veth", "peer", "name", phoneEnd]);
    execFileSync("ip", ["link", "set", gwEnd, "netns", lab.ns(gatewayHost)]);
    execFileSync("ip", ["link", "set", phoneEnd, "netns", lab.ns(host)]);
    lab.exec(gatewayHost, "ip", ["link", "set", gwEnd, "master", "br0"]);
    lab.exec(gatewayHost, "ip", ["link", "set", gwEnd, "up"]);
    lab.exec(host, "ip", ["link", "set", phoneEnd, "name", "eth0"]);
    lab.exec(host, "ip", ["addr", "add", `${addr}/24`, "dev", "eth0"]);
    lab.exec(host, "ip", ["link", "set", "eth0", "up"]);
    // SIPp's -rtp_echo listens on the media port and port+2, not on RTCP's port+1: the ICMP
    // port-unreachable it would send back makes a peer (baresip) end its call with ECONNRESET.
    lab.exec(host, "nft", ["add", "table", "inet", "lab"]);
    lab.exec(host, "nft", ["add", "chain", "inet", "lab", "out", "{ type filter hook output priority 0; }"]);
    lab.exec(host, "nft", ["add", "rule", "inet", "lab", "out", "icmp", "type", "destination-unreachable", "drop"]);
    return { number, password: `secret${number}`, host, addr };
  });
  return { gatewayHost, gatewayAddr: GATEWAY_ADDR, phones };
}
