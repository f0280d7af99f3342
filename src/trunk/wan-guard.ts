/**
 * The WAN guard: the kernel drops what would fool the trunk's and the LAN listener's source
 * checks, by the interface a datagram arrived on.
 *
 * The trunk believes a request comes from the line when its source is the NGN's SIP server.
 * A LAN host can forge that source: it routes the lease address via the gateway's LAN
 * address, and Linux (the weak host model) delivers a datagram for any local address that
 * arrives on any interface; rp_filter=2 (loose, Debian's default) lets the forged source in,
 * since the server is routable via the WAN port. What tells the truth is the arrival
 * interface, and Node's dgram cannot see it: no SO_BINDTODEVICE, no IP_PKTINFO. Binding to
 * the lease address changes nothing (the attack targets that address), strict rp_filter is an
 * admin's sysctl we can only advise, and a native addon for raw sockets is a new native
 * dependency. So: nftables, which the gateway already drives for media offload, in a table of
 * its own (`ip hikari_gw_guard`, replaced whole on each lease so a crash leaves nothing stale
 * beyond the last lease's rules):
 *   - UDP to <lease>:<trunk port> that did not arrive on the WAN port (or lo) is dropped;
 *   - UDP to the LAN listener's port that arrived on the WAN port is dropped (unless it is the
 *     trunk's own address and port), so the PBX is never reachable from the line's side,
 *     whatever lan.listen says;
 *   - UDP to the media ports that arrived on the WAN port is dropped unless it is for the lease
 *     address (the relay's sockets are bound to every address while the trunk is on);
 *   - forwarding: the kernel media path (`media.offload`, src/media/offload-nft.ts) needs
 *     net.ipv4.ip_forward=1, which makes the gateway a router between the line's side (the
 *     NGN, its option-121 routes) and the LAN/VPN. The only forwarding the product does is a
 *     relayed call's media that the offload DNATs (`ct status dnat`, the conntrack entry
 *     created at the gateway's own media port, so its original destination port is one of
 *     media.rtp_ports, replies included). Any other packet forwarded in from or out to the WAN
 *     port is dropped and counted (`forward_dropped`): a LAN host routing via the gateway
 *     cannot reach the NGN, nor the NGN's side the LAN. Forwarding that does not touch the
 *     WAN port (a dev machine's Docker bridge, the VPN to the LAN) is left alone.
 */
import { isIP } from "node:net";
import type { Logger } from "../log.js";
import { runNft, type NftRunner } from "../media/offload-nft.js";

export const GUARD_TABLE = "hikari_gw_guard";

export interface WanGuardRules {
  wanInterface: string;
  /** Our WAN (lease) address, where the trunk listens. */
  leaseAddress: string;
  trunkPort: number;
  lanPort: number;
  /** media.rtp_ports ("50000-59999"): from the WAN port, only to the lease address. */
  rtpPorts?: string;
}

const IFNAME = /^[A-Za-z0-9_.:-]{1,15}$/;

/** The nft script for `r` (throws on an interface name or address nft could misread). */
export function wanGuardScript(r: WanGuardRules): string {
  if (!IFNAME.test(r.wanInterface)) throw new Error(`not an interface name: ${JSON.stringify(r.wanInterface)}`);
  if (isIP(r.leaseAddress) !== 4) throw new Error(`not an IPv4 address: ${r.leaseAddress}`);
  const T = `ip ${GUARD_TABLE}`;
  const wan = `"${r.wanInterface}"`;
  const media = r.rtpPorts && /^\d{1,5}-\d{1,5}$/.test(r.rtpPorts) ? r.rtpPorts : undefined;
  const offloaded = `meta l4proto udp ct status dnat${media ? ` ct original proto-dst ${media}` : ""}`;
  const lanRule =
    r.lanPort === r.trunkPort
      ? `    iifname ${wan} udp dport ${r.lanPort} ip daddr != ${r.leaseAddress} counter drop comment "the LAN listener is not for the line's side"`
      : `    iifname ${wan} udp dport ${r.lanPort} counter drop comment "the LAN listener is not for the line's side"`;
  return [
    `table ${T} {}`,
    `delete table ${T}`,
    `table ${T} {`,
    `  counter forward_dropped {}`,
    // Before any accepting filter chain of the host's own firewall (priority filter = 0).
    `  chain input { type filter hook input priority -10; policy accept;`,
    `    ip daddr ${r.leaseAddress} udp dport ${r.trunkPort} iifname != { ${wan}, "lo" } counter drop comment "the trunk only hears the WAN port"`,
    lanRule,
    // The relay binds every address when the trunk is on: media from the line's side only
    // ever goes to the lease address, never to the LAN addresses' ports.
    ...(media ? [`    iifname ${wan} udp dport ${media} ip daddr != ${r.leaseAddress} counter drop comment "media from the line goes to the lease address only"`] : []),
    `  }`,
    // Forwarded packets only (never the gateway's own traffic): the offloaded media, then a drop.
    `  chain forward { type filter hook forward priority -10; policy accept;`,
    `    iifname ${wan} ${offloaded} accept comment "offloaded media from the line"`,
    `    oifname ${wan} ${offloaded} accept comment "offloaded media to the line"`,
    `    iifname ${wan} counter name "forward_dropped" drop comment "nothing else is routed in from the line"`,
    `    oifname ${wan} counter name "forward_dropped" drop comment "nothing else is routed out to the line"`,
    `  }`,
    `}`,
    "",
  ].join("\n");
}

export class WanGuard {
  private applied: string | undefined;

  constructor(private readonly opts: { log: Logger; run?: NftRunner }) {}

  /** Install (or replace) the rules for this lease. A failure is logged loudly and returned, never thrown. */
  async apply(r: WanGuardRules): Promise<Error | undefined> {
    const run = this.opts.run ?? runNft;
    try {
      const script = wanGuardScript(r);
      if (script === this.applied) return undefined;
      await run(script);
      this.applied = script;
      this.opts.log.info({ ...r }, "wan guard installed: the trunk hears only the WAN port, the LAN listener never does, only offloaded media is forwarded to or from it");
      return undefined;
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, "wan guard NOT installed (nftables): a LAN host forging the NGN server's address can reach the trunk; install nftables, or set rp_filter=1 (strict) on every interface");
      return err as Error;
    }
  }

  async remove(): Promise<void> {
    if (this.applied === undefined) return;
    this.applied = undefined;
    const run = this.opts.run ?? runNft;
    await run(`table ip ${GUARD_TABLE} {}\ndelete table ip ${GUARD_TABLE}\n`).catch((err: unknown) => this.opts.log.warn({ err: (err as Error).message }, "wan guard not removed"));
  }
}
