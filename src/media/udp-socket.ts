/**
 * The relay's view of a UDP socket: just what the hot path uses, so unit tests can swap in an
 * in-memory fake. The real one is a plain `dgram` socket with a synchronous `lookup`: every
 * address we send to is already an IP literal, and Node's default lookup defers each send to
 * the next tick through `dns.lookup()` even for literals (lib/dns.js), one more queue hop per
 * packet. Sends go through FastSender (fast-send.ts) where Node's internals allow it.
 */
import dgram from "node:dgram";
import { isIP } from "node:net";
import { FastSender } from "./fast-send.js";

export interface RelayRemoteInfo {
  address: string;
  port: number;
}

export interface RelaySocket {
  on(event: "message", listener: (msg: Buffer, rinfo: RelayRemoteInfo) => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  send(msg: Buffer, port: number, address: string): void;
  /** Connected form (after connect()): the kernel keeps the route and filters other sources. */
  send(msg: Buffer): void;
  connect(port: number, address: string, callback: () => void): void;
  disconnect(): void;
  close(): void;
}

/** Binds one socket on `address:port`; rejects with the bind error (EADDRINUSE…). */
export type BindSocket = (address: string, port: number) => Promise<RelaySocket>;

type LookupCb = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;
function literalLookup(hostname: string, _opts: unknown, cb: LookupCb): void {
  const family = isIP(hostname);
  if (family === 0) cb(Object.assign(new Error(`not an IP literal: ${hostname}`), { code: "EINVAL" }), "", 0);
  else cb(null, hostname, family);
}

/** A bound dgram socket whose sends skip `socket.send()`'s per-call work when they can. */
export class DgramRelaySocket implements RelaySocket {
  private readonly fast: FastSender | null;

  constructor(readonly socket: dgram.Socket) {
    this.fast = FastSender.for(socket);
  }

  on(event: "message" | "error", listener: never): this {
    this.socket.on(event, listener);
    return this;
  }

  send(msg: Buffer, port?: number, address?: string): void {
    if (this.fast !== null && this.fast.send(msg, port, address)) return;
    if (port === undefined) this.socket.send(msg);
    else this.socket.send(msg, port, address);
  }

  connect(port: number, address: string, callback: () => void): void {
    this.socket.connect(port, address, callback);
  }

  disconnect(): void {
    this.socket.disconnect();
  }

  close(): void {
    this.socket.close();
  }
}

export const bindUdp: BindSocket = (address, port) =>
  new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type: isIP(address) === 6 ? "udp6" : "udp4", lookup: literalLookup as never });
    const onError = (err: Error): void => {
      sock.close();
      reject(err);
    };
    sock.once("error", onError);
    // exclusive: never share a port with a cluster worker or another process (no SO_REUSEPORT).
    sock.bind({ address, port, exclusive: true }, () => {
      sock.off("error", onError);
      resolve(new DgramRelaySocket(sock));
    });
  });
