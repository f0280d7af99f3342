/**
 * SIP over UDP (RFC 3261 §18) on node:dgram. One socket, bound to one address/port.
 * Drops CRLF keep-alives (answering the RFC 5626 §3.5.1 ping), parses every datagram,
 * stamps received/rport on requests (§18.2.1, RFC 3581 §4), and never lets a bad
 * datagram or a throwing handler take the process down.
 */
import dgram from "node:dgram";
import type { Logger } from "../log.js";
import type { Endpoint, SipMessage } from "./message/types.js";
import { SipParseError } from "./message/types.js";
import { parseMessage, responseForParseError, serializeMessage } from "./message/index.js";
import { MAX_DATAGRAM_BYTES, endpointKey, stampReceived, type SendErrorHandler, type Transport } from "./transport.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { clip } from "../log-value.js";
import { maskCredentials } from "./mask-credentials.js";

export interface UdpTransportOptions {
  address: string;
  port: number;
  log: Logger;
  /** SO_RCVBUF; bursts of REGISTERs overflow Debian's ~200 KiB default. 0 leaves it alone. */
  receiveBufferBytes?: number;
  /**
   * Log every SIP message sent and received, one line each (info level), credentials masked,
   * at most MESSAGE_LOG_PER_S lines a second (a flood is counted, not copied).
   */
  logMessages?: boolean;
  /**
   * Which sources may talk to this socket at all (lan.allow, the trunk's SIP servers). A
   * datagram from anywhere else is dropped before parsing, silently (no answer tells a
   * scanner something listens here) and counted in `not_allowed`.
   */
  accept?: (from: Endpoint) => boolean;
  /** SO_REUSEADDR: lets a wildcard listener share its port with one bound to a specific address. */
  reuseAddr?: boolean;
}

/** What the transport dropped or failed to send, counted (every one is also rate-limited in the log). */
export interface TransportCounters {
  /** Unparseable datagrams. */
  malformed: number;
  /** Requests without a usable top Via (a bad sent-by port, rport or received among them). */
  no_via: number;
  /** Sends that failed (a bad destination, ICMP errors, a closed socket). */
  send_failed: number;
  /** Datagrams from sources the `accept` filter refuses (lan.allow). */
  not_allowed: number;
}

/** `log.sip_messages` lines a second at most: far above a home's signalling. */
const MESSAGE_LOG_PER_S = 100;
/** Longest message text one line copies (phones' messages fit in 1300 bytes, §18.1.1). */
const MESSAGE_LOG_CHARS = 4096;

const DEFAULT_RCVBUF = 4 * 1024 * 1024;
const PING = Buffer.from("\r\n\r\n");
const PONG = Buffer.from("\r\n");

export class UdpTransport implements Transport {
  private readonly handlers: Array<(msg: SipMessage, from: Endpoint) => void> = [];
  private readonly limited: RateLimitedLog;
  private readonly sendFailed: RateLimitedLog;
  private readonly counters: TransportCounters = { malformed: 0, no_via: 0, send_failed: 0, not_allowed: 0 };
  private readonly messageLog: RateLimitedLog;
  private closed = false;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly local: Endpoint,
    private readonly log: Logger,
    private readonly logMessages: boolean,
    private readonly accept: ((from: Endpoint) => boolean) | undefined,
  ) {
    this.limited = new RateLimitedLog(log);
    this.sendFailed = new RateLimitedLog(log);
    this.messageLog = new RateLimitedLog(log, MESSAGE_LOG_PER_S);
    socket.on("message", (buf, rinfo) => this.receive(buf, { address: rinfo.address, port: rinfo.port }));
    // A send error (ICMP unreachable on Linux) must not become an uncaught 'error'.
    socket.on("error", (err) => this.limited.warn({ err }, "udp socket error"));
  }

  static async bind(opts: UdpTransportOptions): Promise<UdpTransport> {
    const log = opts.log;
    const socket = dgram.createSocket({ type: opts.address.includes(":") ? "udp6" : "udp4", reuseAddr: opts.reuseAddr ?? false });
    await new Promise<void>((resolve, reject) => {
      const onErr = (err: Error) => reject(err);
      socket.once("error", onErr);
      socket.bind(opts.port, opts.address, () => {
        socket.off("error", onErr);
        resolve();
      });
    });
    const want = opts.receiveBufferBytes ?? DEFAULT_RCVBUF;
    if (want > 0) {
      try {
        // Linux caps at net.core.rmem_max (and doubles the value); the default still helps.
        socket.setRecvBufferSize(want);
      } catch (err) {
        log.debug({ err, want }, "could not raise SO_RCVBUF");
      }
    }
    const a = socket.address();
    const t = new UdpTransport(socket, { address: a.address, port: a.port }, log, opts.logMessages ?? false, opts.accept);
    log.info({ local: endpointKey(t.local), rcvbuf: safe(() => socket.getRecvBufferSize()) }, "sip udp transport listening");
    return t;
  }

  onMessage(h: (msg: SipMessage, from: Endpoint) => void): void {
    this.handlers.push(h);
  }

  send(msg: SipMessage, to: Endpoint, onError?: SendErrorHandler): void {
    let buf: Buffer;
    try {
      buf = serializeMessage(msg);
    } catch (err) {
      this.limited.warn({ err }, "could not serialize sip message");
      onError?.(err as Error);
      return;
    }
    this.sendRaw(buf, to, onError);
  }

  sendRaw(buf: Buffer, to: Endpoint, onError?: SendErrorHandler): void {
    if (this.closed) {
      onError?.(new Error("transport closed"));
      return;
    }
    if (buf.length > MAX_DATAGRAM_BYTES) {
      // §18.1.1 would switch to TCP; we have none, so refuse rather than fragment blindly.
      this.limited.warn({ bytes: buf.length, to: endpointKey(to) }, "refusing to send oversized sip datagram");
      onError?.(new Error(`datagram too large: ${buf.length} bytes`));
      return;
    }
    if (this.logMessages) this.logMessage("send", to, buf);
    const failed = (err: Error) => {
      this.counters.send_failed++;
      this.sendFailed.warn({ err: err.message, to: endpointKey(to) }, "sip send failed");
      onError?.(err);
    };
    try {
      this.socket.send(buf, to.port, to.address, (err) => {
        if (err) failed(err);
      });
    } catch (err) {
      // dgram throws synchronously for a bad port or address (ERR_SOCKET_BAD_PORT): report
      // it like an asynchronous failure, later, so the sender's state machine never sees a
      // throw in the middle of a transition and its transaction ends as a transport error.
      queueMicrotask(() => failed(err as Error));
    }
  }

  /** Datagrams dropped or failed, by reason (`hikari-gw status`). */
  stats(): Readonly<TransportCounters> {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private logMessage(dir: "send" | "recv", peer: Endpoint, buf: Buffer): void {
    const text = buf.toString("utf8", 0, Math.min(buf.length, MESSAGE_LOG_CHARS));
    this.messageLog.info({ dir, peer: endpointKey(peer), bytes: buf.length, sip: maskCredentials(text) }, "sip message");
  }

  private receive(buf: Buffer, from: Endpoint): void {
    if (this.accept && !this.accept(from)) {
      this.counters.not_allowed++;
      return;
    }
    if (isKeepAlive(buf)) {
      // RFC 5626 §3.5.1: a double-CRLF ping is answered with a single CRLF pong.
      if (buf.equals(PING)) safe(() => this.socket.send(PONG, from.port, from.address, () => {}));
      return;
    }
    if (this.logMessages) this.logMessage("recv", from, buf);
    let msg: SipMessage;
    try {
      msg = parseMessage(buf);
    } catch (err) {
      this.counters.malformed++;
      this.limited.warn({ peer: endpointKey(from), bytes: buf.length, reason: clip((err as Error).message) }, "dropping malformed sip datagram");
      // RFC 4475 §3.3: a request whose Via/From/To/Call-ID/CSeq could be read is
      // answered statelessly with the parser's status (never an ACK, never a response).
      const reply = err instanceof SipParseError ? safe(() => responseForParseError(err)) : undefined;
      if (reply) this.send(reply, from);
      return;
    }
    if (msg.kind === "request" && !stampReceived(msg, from)) {
      this.counters.no_via++;
      this.limited.warn({ peer: endpointKey(from) }, "dropping sip request without a usable Via");
      return;
    }
    for (const h of this.handlers) {
      try {
        h(msg, from);
      } catch (err) {
        this.limited.warn({ err }, "sip message handler threw");
      }
    }
  }
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** Only CR, LF, NUL and blanks: keep-alives of every flavour (RFC 5626, and phones' own). */
export function isKeepAlive(buf: Buffer): boolean {
  if (buf.length > 16) return false;
  for (const c of buf) if (c !== 0x0d && c !== 0x0a && c !== 0x00 && c !== 0x20) return false;
  return true;
}
