/**
 * A cheaper `socket.send(buf)` for the relay's hot path. Node's `Socket.prototype.send`
 * (lib/dgram.js) does, per datagram: argument shuffling, a new one-element list, an `afterDns`
 * closure, an async-id scope (`defaultTriggerAsyncIdScope`), a new `SendWrap` and, unconnected,
 * a `lookup()` hop. Only the last step does the work: `handle.send(req, list, n[, port, ip],
 * hasCallback)` on the socket's UDP handle, which tries `uv_udp_try_send()` at once and wraps
 * `req` natively only when the kernel would block (udp_wrap.cc `DoSend`).
 *
 * So we call that handle directly, reusing one `req` and one list per socket: safe because the
 * native side keeps neither after a synchronous send (return ≥ 1: bytes + 1). A return of 0
 * means "queued in libuv": that req and list now belong to the pending send and we take fresh
 * ones. No callback is asked for, as `socket.send(buf)` without one.
 *
 * These are Node internals (same shape in Node 12 to 24), so everything is feature-detected
 * once, and any surprise (no state symbol, no handle, no SendWrap, a non-number result) turns
 * the fast path off for good and the caller goes back to `socket.send()`.
 *
 * OFF by default (HIKARI_RELAY_FAST_SEND=1 turns it on). Measured: `node bench/rtp/send-micro.mjs`
 * saves ~0.15 µs of ~2.8 µs per datagram (the sendmsg syscall is the rest), i.e. ~1 % of the
 * relay's ~12 µs per relayed packet; but in `npm run bench:rtp` (same run, both orders) the
 * relay with it broke at 500 calls four times out of four (CPU 95–98 %, p99 40–67 ms) where
 * dgram's socket.send held (CPU 66–82 %, p99 ≤ 1.2 ms). Not understood yet, so not the default.
 */
import type dgram from "node:dgram";

interface UdpHandle {
  send(req: object, list: Buffer[], count: number, ...rest: unknown[]): unknown;
}
type SendWrapCtor = new () => { list?: Buffer[] };

let sendWrap: SendWrapCtor | null | undefined;
let stateSymbol: symbol | null | undefined;
/** Opt-in (see above); cleared on the first surprise. */
let enabled = process.env.HIKARI_RELAY_FAST_SEND === "1";

function detectSendWrap(): SendWrapCtor | null {
  try {
    // process.binding is deprecated (DEP0111) but keeps udp_wrap on its allow-list, silently.
    const bindingOf: unknown = Reflect.get(process, "binding");
    if (typeof bindingOf !== "function") return null;
    const binding: unknown = bindingOf.call(process, "udp_wrap");
    const ctor: unknown = typeof binding === "object" && binding !== null ? Reflect.get(binding, "SendWrap") : undefined;
    return typeof ctor === "function" ? (ctor as SendWrapCtor) : null;
  } catch {
    return null;
  }
}

function handleOf(sock: dgram.Socket): UdpHandle | null {
  if (stateSymbol === undefined) stateSymbol = Object.getOwnPropertySymbols(sock).find((s) => s.description === "state symbol") ?? null;
  if (!stateSymbol) return null;
  const state: unknown = Reflect.get(sock, stateSymbol);
  const handle = (typeof state === "object" && state !== null ? Reflect.get(state, "handle") : undefined) as UdpHandle | undefined;
  return handle && typeof handle.send === "function" ? handle : null;
}

/** Turns the fast path on (tests, experiments); detection still runs per socket. */
export function enableFastSend(): void {
  enabled = true;
}

/** Turns the fast path off (first surprise, or a test). */
export function disableFastSend(): void {
  enabled = false;
}

export function fastSendEnabled(): boolean {
  return enabled;
}

const EMPTY = Buffer.alloc(0);

/** Per socket. `send()` returns false when the caller must use `socket.send()` instead. */
export class FastSender {
  private req: { list?: Buffer[] };
  private list: Buffer[];
  /** Datagrams the kernel refused (ENOBUFS, ECONNREFUSED on a connected socket…). */
  errors = 0;

  private constructor(
    private readonly handle: UdpHandle,
    private readonly Wrap: SendWrapCtor,
  ) {
    this.list = [EMPTY];
    this.req = this.fresh();
  }

  /** null when the internals are not as expected (then use socket.send). Call after bind. */
  static for(sock: dgram.Socket): FastSender | null {
    if (!enabled) return null;
    if (sendWrap === undefined) sendWrap = detectSendWrap();
    const handle = sendWrap ? handleOf(sock) : null;
    if (!sendWrap || !handle) {
      enabled = false;
      return null;
    }
    return new FastSender(handle, sendWrap);
  }

  private fresh(): { list?: Buffer[] } {
    const req = new this.Wrap();
    req.list = this.list; // as doSend: keeps the buffers alive while a queued send is pending
    return req;
  }

  /** Connected socket: to its peer. Unconnected: to port/ip (an IP literal). */
  send(buf: Buffer, port?: number, ip?: string): boolean {
    if (!enabled) return false;
    this.list[0] = buf;
    const r = port === undefined ? this.handle.send(this.req, this.list, 1, false) : this.handle.send(this.req, this.list, 1, port, ip, false);
    if (typeof r !== "number") {
      enabled = false;
      return false;
    }
    if (r === 0) {
      // Queued by libuv (socket buffer full): this req and list stay with that send.
      this.list = [EMPTY];
      this.req = this.fresh();
    } else if (r < 0) this.errors++;
    return true;
  }
}
