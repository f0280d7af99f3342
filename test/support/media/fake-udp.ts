/**
 * An in-memory UDP network for unit tests (sipgo's `fakes/udp_conn.go` idea): sockets bound
 * on it deliver synchronously to each other, and test "phones" record what reaches them.
 */
import type { RelayRemoteInfo, RelaySocket } from "../../../src/media/udp-socket.js";

type Listener = (msg: Buffer, rinfo: RelayRemoteInfo) => void;

export class FakeUdpNetwork {
  private readonly bound = new Map<string, FakeUdpSocket>();
  /** Every send, in order. */
  readonly sent: { from: string; to: string; size: number }[] = [];

  key(address: string, port: number): string {
    return `${address}:${port}`;
  }

  get open(): number {
    return this.bound.size;
  }

  bind = async (address: string, port: number): Promise<FakeUdpSocket> => {
    const k = this.key(address, port);
    if (this.bound.has(k)) throw Object.assign(new Error(`bind EADDRINUSE ${k}`), { code: "EADDRINUSE" });
    const s = new FakeUdpSocket(this, address, port);
    this.bound.set(k, s);
    return s;
  };

  unbind(s: FakeUdpSocket): void {
    const k = this.key(s.address, s.port);
    if (this.bound.get(k) === s) this.bound.delete(k);
  }

  deliver(fromAddr: string, fromPort: number, toAddr: string, toPort: number, msg: Buffer): void {
    this.sent.push({ from: this.key(fromAddr, fromPort), to: this.key(toAddr, toPort), size: msg.length });
    this.bound.get(this.key(toAddr, toPort))?.receive(msg, { address: fromAddr, port: fromPort });
  }
}

export class FakeUdpSocket implements RelaySocket {
  private readonly listeners: Listener[] = [];
  private readonly errorListeners: ((err: Error) => void)[] = [];
  closed = false;
  readonly received: { msg: Buffer; from: RelayRemoteInfo }[] = [];

  constructor(
    private readonly net: FakeUdpNetwork,
    readonly address: string,
    readonly port: number,
  ) {}

  on(event: "message" | "error", listener: Listener | ((err: Error) => void)): this {
    if (event === "message") this.listeners.push(listener as Listener);
    else this.errorListeners.push(listener as (err: Error) => void);
    return this;
  }

  /** An error as the kernel reports it on a real socket, e.g. `recvmsg ECONNREFUSED` after an ICMP port unreachable. */
  fail(code: string, syscall = "recvmsg"): void {
    const err = Object.assign(new Error(`${syscall} ${code}`), { code, syscall });
    for (const l of this.errorListeners) l(err);
  }

  receive(msg: Buffer, from: RelayRemoteInfo): void {
    if (this.closed) return;
    if (this.peer && (this.peer.address !== from.address || this.peer.port !== from.port)) return;
    this.received.push({ msg, from });
    for (const l of this.listeners) l(msg, from);
  }

  /** connect()ed peer: sends go there, and only its packets are received (as the kernel does). */
  peer: { address: string; port: number } | null = null;

  send(msg: Buffer, port?: number, address?: string): void {
    if (this.closed) throw new Error("send on closed socket");
    const to = port === undefined ? this.peer : { address: address!, port };
    if (!to) throw new Error("send without address on an unconnected socket");
    this.net.deliver(this.address, this.port, to.address, to.port, msg);
  }

  connect(port: number, address: string, callback: () => void): void {
    queueMicrotask(() => {
      this.peer = { address, port };
      callback();
    });
  }

  disconnect(): void {
    this.peer = null;
  }

  close(): void {
    this.closed = true;
    this.net.unbind(this);
  }
}
