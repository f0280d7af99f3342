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
 * Receiving: Linux hands a raw IPPROTO_UDP socket a copy of every UDP packet delivered
 * locally on the bound device (raw_v4_input runs before UDP demux). A limited broadcast is
 * delivered locally even on an interface with no address (checked in the lab), so the client
 * sets the BOOTP broadcast flag (RFC 2131 §4.1) until it holds an address; afterwards
 * servers unicast to the leased address, which is local too. The limit of this choice:
 * the reverse-path filter must not be strict on the WAN port before an address exists
 * (rp_filter 1 drops packets from a source with no route back), which AF_PACKET would avoid
 * but raw-socket does not offer it. We also see our own broadcasts (looped back) and every
 * other UDP packet on the port, so only UDP 67→68 is passed up.
 *
 * ICMP: unicast replies to port 68 find no UDP socket, and the kernel would answer each
 * with ICMP port unreachable. Once an address is held we bind a dgram socket to
 * <address>:68 (SO_REUSEADDR, best effort) that silently absorbs them; raw still gets its copy.
 */
import { createRequire } from "node:module";
import dgram from "node:dgram";
import type { Logger } from "../log.js";
import { buildIpUdp, parseIpUdp } from "./ip-udp.js";
import type { DhcpTransport } from "./transport.js";

const SOL_SOCKET = 1;
const SO_BROADCAST = 6;
const SO_BINDTODEVICE = 25;
const IPPROTO_IP = 0;
const IP_HDRINCL = 3;
const CLIENT_PORT = 68;
const SERVER_PORT = 67;

interface RawSocket {
  on(ev: "message", fn: (buf: Buffer, source: string) => void): void;
  on(ev: "error", fn: (err: Error) => void): void;
  on(ev: "close", fn: () => void): void;
  setOption(level: number, option: number, value: Buffer | number, length?: number): void;
  send(buf: Buffer, offset: number, length: number, address: string, after: (err: Error | null, bytes: number) => void): void;
  close(): void;
}
interface RawSocketModule {
  createSocket(opts: { protocol: number; bufferSize?: number }): RawSocket;
}

const require = createRequire(import.meta.url);

export class RawTransport implements DhcpTransport {
  private readonly sock: RawSocket;
  private handler: ((payload: Buffer, from: string) => void) | null = null;
  private sink: dgram.Socket | null = null;
  private sinkAddr: string | null = null;
  private ipId = Math.floor(Math.random() * 0xffff);
  private closed = false;

  constructor(
    private readonly iface: string,
    private readonly log: Logger,
  ) {
    const raw = require("raw-socket") as RawSocketModule;
    this.sock = raw.createSocket({ protocol: 17, bufferSize: 65535 });
    try {
      this.sock.setOption(IPPROTO_IP, IP_HDRINCL, 1);
      const dev = Buffer.from(`${iface}\0`);
      this.sock.setOption(SOL_SOCKET, SO_BINDTODEVICE, dev, dev.length);
      this.sock.setOption(SOL_SOCKET, SO_BROADCAST, 1);
    } catch (e) {
      this.sock.close();
      throw new Error(`raw socket on ${iface}: ${(e as Error).message}`);
    }
    this.sock.on("message", (buf) => this.receive(buf));
    this.sock.on("error", (err) => this.log.warn({ err: err.message }, "raw socket error"));
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
    const pkt = buildIpUdp({ src, dst, sport: CLIENT_PORT, dport: SERVER_PORT, payload }, this.ipId);
    return new Promise((resolve, reject) => {
      this.sock.send(pkt, 0, pkt.length, dst, (err) => (err ? reject(err) : resolve()));
    });
  }

  setLocalAddress(addr: string | null): void {
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
    this.sock.close();
  }
}
