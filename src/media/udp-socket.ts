/**
 * The relay's view of a UDP socket: just what the hot path uses, so unit tests can swap in an
 * in-memory fake. The real one is a plain `dgram` socket with a synchronous `lookup`: every
 * address we send to is already an IP literal, and Node's default lookup defers each send to
 * the next tick through `dns.lookup()` even for literals (lib/dns.js), one more queue hop per
 * packet.
 */
import dgram from "node:dgram";
import { isIP } from "node:net";

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
      resolve(sock);
    });
  });
