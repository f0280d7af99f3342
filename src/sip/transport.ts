/**
 * The transport contract of the SIP stack (RFC 3261 §18) and an in-memory network for
 * unit tests of every layer above it. The transport never names its user: the
 * transaction layer registers with `onMessage` (the sipgo way).
 */
import type { Endpoint, SipMessage, SipRequest } from "./message/types.js";
import { formatVia, parseMessage, parseVia, serializeMessage } from "./message/index.js";

/** §18.1.1: UDP datagrams stay under the IP maximum; we refuse anything larger. */
export const MAX_DATAGRAM_BYTES = 65_000;

export type SendErrorHandler = (err: Error) => void;

export interface Transport {
  readonly local: Endpoint;
  /** Serialize and send. A failure (ICMP, oversize, closed socket) goes to `onError`, never throws. */
  send(msg: SipMessage, to: Endpoint, onError?: SendErrorHandler): void;
  /** Send an already serialized message (retransmissions reuse the first serialization). */
  sendRaw(buf: Buffer, to: Endpoint, onError?: SendErrorHandler): void;
  onMessage(h: (msg: SipMessage, from: Endpoint) => void): void;
  close(): Promise<void>;
}

export function endpointKey(e: Endpoint): string {
  return e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** Split a header value at commas that are not inside quotes or angle brackets (§7.3.1). */
export function splitHeaderList(value: string): string[] {
  const out: string[] = [];
  let depthAngle = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++; // backslash escape
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x3c) depthAngle++;
    else if (c === 0x3e) depthAngle = Math.max(0, depthAngle - 1);
    else if (c === 0x2c && depthAngle === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out.filter((s) => s.length > 0);
}

/**
 * §18.2.1 and RFC 3581 §4: stamp the packet source onto the top Via of a received
 * request. `received` when the sent-by host differs from the source address (or is a
 * name), always when `rport` was asked for; `rport=<port>` only when asked for.
 * Returns false when the request has no usable Via (the caller drops it).
 */
export function stampReceived(req: SipRequest, from: Endpoint): boolean {
  const idx = req.headers.findIndex((h) => h.name === "via");
  if (idx < 0) return false;
  const h = req.headers[idx]!;
  const list = splitHeaderList(h.value);
  if (list.length === 0) return false;
  let via;
  try {
    via = parseVia(list[0]!);
  } catch {
    return false;
  }
  const wantsRport = via.params.has("rport");
  const sameHost = stripBrackets(via.host).toLowerCase() === from.address.toLowerCase();
  // A `received` the sender wrote itself would steer our responses anywhere (a reflector):
  // only the one stamped here counts, so an existing one is overwritten with the source.
  if (!wantsRport && sameHost && !via.params.has("received")) return true;
  via.params.set("received", from.address);
  if (wantsRport) via.params.set("rport", String(from.port));
  list[0] = formatVia(via);
  req.headers[idx] = { name: h.name, value: list.join(", ") };
  return true;
}

function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}


// ---------------------------------------------------------------------------------------
// In-memory network (tests). Like SIP.js's connectTransportToUA(): a send serializes,
// the far end parses on a microtask, so every layer is tested through the real codec.

export interface Datagram {
  from: Endpoint;
  to: Endpoint;
  data: Buffer;
  /** The message as handed to send() (undefined for sendRaw). */
  message: SipMessage | undefined;
  dropped: boolean;
  /** Send time on the network's clock (tests check retransmission intervals). */
  at: number;
}

export class MemoryNetwork {
  private readonly hosts = new Map<string, MemoryTransport>();
  /** Every datagram sent on this network, in order. */
  readonly log: Datagram[] = [];
  /** Return true to lose a datagram (retransmission tests). */
  drop: ((d: Datagram) => boolean) | undefined;
  private inFlight = 0;

  constructor(
    readonly now: () => number = Date.now,
    /** Keep every datagram in `log` and `sent` (off for benchmarks). */
    readonly record = true,
  ) {}

  transport(local: Endpoint): MemoryTransport {
    const t = new MemoryTransport(this, local);
    this.hosts.set(endpointKey(local), t);
    return t;
  }

  /**
   * Resolve when nothing is in flight any more (deliveries may trigger more sends) and
   * every queued microtask (deferred send errors) has run.
   */
  async flush(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      await new Promise<void>((r) => setImmediate(r));
      if (this.inFlight === 0) return;
    }
  }

  /** @internal */
  carry(d: Datagram): void {
    if (this.record) this.log.push(d);
    if (this.drop?.(d)) {
      d.dropped = true;
      return;
    }
    this.inFlight++;
    queueMicrotask(() => {
      this.inFlight--;
      this.hosts.get(endpointKey(d.to))?.deliver(d.data, d.from);
    });
  }

  /** @internal */
  forget(t: MemoryTransport): void {
    if (this.hosts.get(endpointKey(t.local)) === t) this.hosts.delete(endpointKey(t.local));
  }
}

/** @param opts.now clock for Datagram.at (a ManualClock's now in tests); opts.record false keeps no log */
export function createMemoryNetwork(opts: { now?: () => number; record?: boolean } = {}): MemoryNetwork {
  return new MemoryNetwork(opts.now, opts.record ?? true);
}

export class MemoryTransport implements Transport {
  /** What this transport sent, in order. */
  readonly sent: Datagram[] = [];
  private readonly handlers: Array<(msg: SipMessage, from: Endpoint) => void> = [];
  private closed = false;
  /** Make the next sends fail (transport-error tests). */
  failSends = false;
  /** Like UdpTransportOptions.accept: sources it drops unheard (counted in `notAllowed`). */
  accept: ((from: Endpoint) => boolean) | undefined;
  private notAllowed = 0;

  constructor(
    private readonly net: MemoryNetwork,
    readonly local: Endpoint,
  ) {}

  send(msg: SipMessage, to: Endpoint, onError?: SendErrorHandler): void {
    this.transmit(serializeMessage(msg), to, msg, onError);
  }

  sendRaw(buf: Buffer, to: Endpoint, onError?: SendErrorHandler): void {
    this.transmit(buf, to, undefined, onError);
  }

  onMessage(h: (msg: SipMessage, from: Endpoint) => void): void {
    this.handlers.push(h);
  }

  /** Like UdpTransport.stats(), for what the in-memory transport counts. */
  stats(): { not_allowed: number } {
    return { not_allowed: this.notAllowed };
  }

  /** Feed a datagram in as if it came from `from` (parsed and stamped like a real one). */
  inject(data: Buffer | string, from: Endpoint): void {
    this.deliver(typeof data === "string" ? Buffer.from(data) : data, from);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.net.forget(this);
  }

  /** @internal */
  deliver(data: Buffer, from: Endpoint): void {
    if (this.closed) return;
    if (this.accept && !this.accept(from)) {
      this.notAllowed++;
      return;
    }
    let msg: SipMessage;
    try {
      msg = parseMessage(data);
    } catch {
      return;
    }
    if (msg.kind === "request" && !stampReceived(msg, from)) return;
    for (const h of this.handlers) h(msg, from);
  }

  private transmit(data: Buffer, to: Endpoint, message: SipMessage | undefined, onError?: SendErrorHandler): void {
    if (this.closed || this.failSends || data.length > MAX_DATAGRAM_BYTES) {
      const err = new Error(this.closed ? "transport closed" : this.failSends ? "send failed (test)" : `datagram too large: ${data.length} bytes`);
      queueMicrotask(() => onError?.(err));
      return;
    }
    const d: Datagram = { from: this.local, to, data, message, dropped: false, at: this.net.now() };
    if (this.net.record) this.sent.push(d);
    this.net.carry(d);
  }
}
