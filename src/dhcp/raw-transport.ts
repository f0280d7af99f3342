/**
 * DHCP over a raw IPv4 socket (the `raw-socket` package), bound to the WAN interface.
 *
 * Why raw: before it has an address the client must send from 0.0.0.0:68 to
 * 255.255.255.255:67 out of one chosen interface, while LAN/VPN interfaces exist. A dgram
 * socket cannot choose the interface (Node exposes no SO_BINDTODEVICE) and binding
 * 0.0.0.0:68 collides with any other DHCP client on the host. So we open SOCK_RAW with
 * IPPROTO_UDP, set IP_HDRINCL and write the IP and UDP headers ourselves, and
 * SO_BINDTODEVICE pins both directions to the interface.
 *
 * The one thing a raw IP socket cannot do: send with source 0.0.0.0 (RFC 2131 §4.1) when
 * some other interface has an address. Linux fills a zero source of an IP_HDRINCL packet
 * with the route's preferred source (raw_send_hdrinc), and with no address on the WAN port
 * inet_select_addr() falls back to any other interface's, e.g. the LAN's. dhclient and
 * systemd-networkd avoid this with AF_PACKET, which raw-socket does not offer (it creates
 * AF_INET/AF_INET6 only). The fallback: packets meant to leave from 0.0.0.0 carry a socket
 * mark (SO_MARK, set just before each such send), and one nftables rule in our own table
 * rewrites their source back to 0.0.0.0 on the way out. Those packets go with UDP
 * checksum 0 (none, allowed by RFC 768 for IPv4), which stays valid whatever the source was
 * in between. Without nft the client still works when no other interface has an address.
 *
 * Receiving: Linux hands a raw IPPROTO_UDP socket a copy of every UDP packet delivered
 * locally on the bound device (raw_v4_input runs before UDP demux). A limited broadcast is
 * delivered locally even on an interface with no address (checked in the lab), so the client
 * sets the BOOTP broadcast flag (RFC 2131 §4.1) until it holds an address; afterwards
 * servers unicast to the leased address, which is local too. We also see our own
 * looped-back broadcasts and every other UDP packet on the port, so only UDP 67→68 is
 * passed up.
 *
 * Reverse-path filter: packets are routed before a raw socket sees them, and any rp_filter
 * (strict 1 or loose 2, the latter systemd's default) drops a packet arriving on an
 * interface with no IPv4 address (fib_validate_source: no_addr → last_resort → reject).
 * AF_PACKET clients never meet this. So while the port has no address we set its own
 * rp_filter to 0 and put the old value back once an address is held. The effective value
 * is max(all, interface): a non-zero `all` cannot be undone per interface, so we warn.
 *
 * ICMP: unicast replies to port 68 find no UDP socket, and the kernel would answer each
 * with ICMP port unreachable. Once an address is held we bind a dgram socket to
 * <address>:68 (SO_REUSEADDR, best effort) that silently absorbs them; raw still gets its copy.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import dgram from "node:dgram";
import type { Logger } from "../log.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { buildIpUdp, parseIpUdp } from "./ip-udp.js";
import type { DhcpTransport } from "./transport.js";

const SOL_SOCKET = 1;
const SO_BROADCAST = 6;
const SO_BINDTODEVICE = 25;
const SO_MARK = 36;
const IPPROTO_IP = 0;
const IP_HDRINCL = 3;
const CLIENT_PORT = 68;
const SERVER_PORT = 67;
/** Socket mark of packets whose source must be 0.0.0.0 ("HG" + 0x0d0c). */
export const ZERO_SOURCE_MARK = 0x48470d0c;

interface RawSocket {
  on(ev: "message", fn: (buf: Buffer, source: string) => void): void;
  on(ev: "error", fn: (err: Error) => void): void;
  setOption(level: number, option: number, value: Buffer | number, length?: number): void;
  send(buf: Buffer, offset: number, length: number, address: string, before: () => void, after: (err: Error | null, bytes: number) => void): void;
  close(): void;
}
interface RawSocketModule {
  createSocket(opts: { protocol: number; bufferSize?: number }): RawSocket;
}

const require = createRequire(import.meta.url);

function nft(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = execFile("nft", ["-f", "-"], { timeout: 10_000 }, (err, _o, stderr) => (err ? reject(new Error(stderr.trim() || err.message)) : resolve()));
    p.stdin?.end(script);
  });
}

/** Our nftables table for one interface (kept apart from the user's ruleset). */
export function zeroSourceTable(iface: string): { name: string; create: string; remove: string } {
  const name = `hikari_gw_dhcp_${iface.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const create = [
    `table ip ${name} {}`,
    `delete table ip ${name}`,
    `table ip ${name} {`,
    `  chain postrouting {`,
    `    type filter hook postrouting priority 300; policy accept;`,
    `    oifname "${iface}" meta mark 0x${ZERO_SOURCE_MARK.toString(16)} udp sport ${CLIENT_PORT} udp dport ${SERVER_PORT} ip saddr set 0.0.0.0`,
    `  }`,
    `}`,
  ].join("\n");
  return { name, create, remove: `delete table ip ${name}` };
}

export class RawTransport implements DhcpTransport {
  private handler: ((payload: Buffer, from: string) => void) | null = null;
  private sink: dgram.Socket | null = null;
  private sinkAddr: string | null = null;
  private ipId = Math.floor(Math.random() * 0xffff);
  private closed = false;
  private nftInstalled = false;
  /** rp_filter value to restore once an address is held; null when untouched. */
  private rpSaved: string | null = null;

  private constructor(
    private readonly sock: RawSocket,
    private readonly iface: string,
    private readonly log: Logger,
  ) {
    this.sock.on("message", (buf) => this.receive(buf));
    // Per datagram (an ICMP error, a send failing while the link flaps): rate-limited.
    const errors = new RateLimitedLog(log);
    this.sock.on("error", (err) => errors.warn({ err: err.message }, "raw socket error"));
  }

  /** Open the socket on `iface` and install the zero-source rule (best effort). */
  static async open(iface: string, log: Logger): Promise<RawTransport> {
    const raw = require("raw-socket") as RawSocketModule;
    const sock = raw.createSocket({ protocol: 17, bufferSize: 65535 });
    try {
      sock.setOption(IPPROTO_IP, IP_HDRINCL, 1);
      const dev = Buffer.from(`${iface}\0`);
      sock.setOption(SOL_SOCKET, SO_BINDTODEVICE, dev, dev.length);
      sock.setOption(SOL_SOCKET, SO_BROADCAST, 1);
    } catch (e) {
      sock.close();
      throw new Error(`raw socket on ${iface}: ${(e as Error).message}`);
    }
    const t = new RawTransport(sock, iface, log);
    t.relaxRpFilter();
    try {
      await nft(zeroSourceTable(iface).create);
      t.nftInstalled = true;
    } catch (e) {
      log.warn({ err: (e as Error).message }, "nftables unavailable: DHCP messages before a lease may carry another interface's source address");
    }
    return t;
  }

  private receive(buf: Buffer): void {
    const d = parseIpUdp(buf);
    if (!d || d.dport !== CLIENT_PORT || d.sport !== SERVER_PORT) return;
    this.handler?.(Buffer.from(d.payload), d.src);
  }

  onMessage(handler: (payload: Buffer, from: string) => void): void {
    this.handler = handler;
  }

  send(payload: Buffer, src: string, dst: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error("transport closed"));
    this.ipId = (this.ipId + 1) & 0xffff;
    const zeroSource = src === "0.0.0.0";
    const pkt = buildIpUdp({ src, dst, sport: CLIENT_PORT, dport: SERVER_PORT, payload }, this.ipId, !zeroSource);
    const mark = zeroSource ? ZERO_SOURCE_MARK : 0;
    return new Promise((resolve, reject) => {
      this.sock.send(
        pkt,
        0,
        pkt.length,
        dst,
        // raw-socket runs this right before the write, so the mark applies to this packet only.
        () => this.sock.setOption(SOL_SOCKET, SO_MARK, mark),
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  private rpPath(which: string): string {
    return `/proc/sys/net/ipv4/conf/${which}/rp_filter`;
  }

  private relaxRpFilter(): void {
    try {
      const all = readFileSync(this.rpPath("all"), "utf8").trim();
      // Never advise loosening it: strict (1) per interface is what keeps a LAN host from
      // forging the line's SIP server. `all` counts as max(all, interface), so only all=0
      // leaves the per-interface value (and our lifting it during DHCP) in effect.
      if (all !== "0") this.log.warn({ rp_filter: all }, `net.ipv4.conf.all.rp_filter is ${all}: it overrides the WAN port's own value, so DHCP replies to the unaddressed port may be dropped. Set net.ipv4.conf.all.rp_filter=0 and rp_filter=1 (strict) on ${this.iface} and on each LAN interface: do not turn it off`);
      const cur = readFileSync(this.rpPath(this.iface), "utf8").trim();
      if (cur === "0" || this.rpSaved !== null) return;
      writeFileSync(this.rpPath(this.iface), "0");
      this.rpSaved = cur;
      this.log.info({ interface: this.iface, was: cur }, "rp_filter off on the WAN port until it has an address");
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, "rp_filter not adjusted");
    }
  }

  private restoreRpFilter(): void {
    if (this.rpSaved === null) return;
    try {
      writeFileSync(this.rpPath(this.iface), this.rpSaved);
      // Loose (2, Debian/systemd's default) accepts a packet from any address routable on any
      // interface: a LAN host forging the NGN server's address gets in on the LAN side.
      if (this.rpSaved !== "1") this.log.warn({ interface: this.iface, rp_filter: this.rpSaved }, `rp_filter on ${this.iface} is ${this.rpSaved === "0" ? "off" : "loose"}: set net.ipv4.conf.${this.iface}.rp_filter=1 (strict), and the same on the LAN interfaces`);
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, "rp_filter not restored");
    }
    this.rpSaved = null;
  }

  setLocalAddress(addr: string | null): void {
    if (addr) this.restoreRpFilter();
    else if (!this.closed) this.relaxRpFilter();
    if (addr === this.sinkAddr) return;
    this.closeSink();
    if (!addr || this.closed) return;
    this.sinkAddr = addr;
    const s = dgram.createSocket({ type: "udp4", reuseAddr: true });
    s.on("error", (err) => {
      this.log.debug({ err: err.message, addr }, "ICMP sink socket unavailable; unicast replies may draw port unreachable");
      if (this.sink === s) this.closeSink();
    });
    s.on("message", () => undefined); // the raw socket already has its copy
    s.bind(CLIENT_PORT, addr, () => s.unref());
    this.sink = s;
  }

  private closeSink(): void {
    const s = this.sink;
    this.sink = null;
    this.sinkAddr = null;
    if (s) {
      try {
        s.close();
      } catch {
        /* not bound yet or already closed */
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closeSink();
    this.restoreRpFilter();
    this.sock.close();
    if (this.nftInstalled) await nft(zeroSourceTable(this.iface).remove).catch((e: unknown) => this.log.debug({ err: (e as Error).message }, "nft cleanup failed"));
  }
}
