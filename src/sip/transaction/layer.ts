/**
 * The transaction layer (RFC 3261 §17): the only part of the SIP stack the PBX and the
 * trunk touch. It registers on a Transport, matches every message to a transaction
 * through Maps keyed as §17.1.3 / §17.2.3 say, creates server transactions for new
 * requests, answers CANCEL itself (§9.2), retransmits 2xx to INVITE until the ACK
 * (§13.3.1.4), and hands everything else up through registered handlers.
 */
import type { Logger } from "../../log.js";
import { systemClock, type Clock } from "../../clock.js";
import { RateLimitedLog } from "../../rate-limited-log.js";
import type { Endpoint, Header, SipMessage, SipRequest, SipResponse } from "../message/types.js";
import { formatVia, prependHeader, validateRequest } from "../message/index.js";
import type { Transport } from "../transport.js";
import { Retransmit2xx } from "./ack-2xx.js";
import { InviteClientTransaction } from "./invite-client.js";
import { InviteServerTransaction } from "./invite-server.js";
import { CompletedStore } from "./completed-store.js";
import { SettledInvites } from "./settled-invites.js";
import { DEFAULT_MAX_SERVER_TRANSACTIONS, DEFAULT_RETRY_AFTER_S, ServerTransactionBound } from "./overload.js";
import { ackKey, clientKey, responseKey, serverKey } from "./keys.js";
import { MAGIC_COOKIE, buildResponse, cseqOf, deriveRequest, header, newBranch, tagOf, topVia, viaDestination } from "./message-view.js";
import { NonInviteClientTransaction } from "./non-invite-client.js";
import { NonInviteServerTransaction } from "./non-invite-server.js";
import { timerDurations, type TimerDurations, type TimerValues } from "./timer-values.js";
import { TimerWheel } from "./timer-wheel.js";
import type { ClientTransaction, ClientTransactionUser, RetiringInviteServerTransaction, RetiringServerTransaction, ServerTransaction, TransactionContext, TransactionRef } from "./transaction.js";

export type { ClientTransaction, ClientTransactionUser, ServerTransaction } from "./transaction.js";

/** How our own Via looks (§18.1.1 sent-by; RFC 3581 rport). */
export interface ViaOptions {
  /** sent-by host; default transport.local.address (set it when bound to 0.0.0.0). */
  host?: string;
  port?: number;
  /** Ask for rport (RFC 3581). NTT's NGN rejects it (docs/ngn.md "Registration"), so off by default. */
  rport?: boolean;
}

export interface TransactionLayerOptions {
  transport: Transport;
  log: Logger;
  clock?: Clock;
  timers?: Partial<TimerValues>;
  /** Answer to the packet source rather than the Via (phones behind NAT). Default true. */
  respondToSource?: boolean;
  via?: ViaOptions;
  /**
   * Send 100 Trying for every new INVITE at once (§17.2.1). Default true: the PBX may
   * await media allocation before its first provisional.
   */
  sendTrying?: boolean;
  /**
   * Retransmit a 2xx to INVITE until its ACK (§13.3.1.4) in the layer, reporting
   * `tx.onNoAck` after 64·T1. Default true: the PBX relies on it.
   */
  retransmit2xx?: boolean;
  /** Shared timer tick, ms. Default 10. */
  timerGranularityMs?: number;
  /** Server transactions (live and completed) kept at most; past it, 503 + Retry-After (overload.ts). */
  maxServerTransactions?: number;
  /** Retry-After of that 503, seconds. */
  retryAfterS?: number;
}

type RequestHandler = (req: SipRequest, tx: ServerTransaction | undefined, from: Endpoint) => void;
type ResponseHandler = (res: SipResponse, from: Endpoint) => void;
type ServerTx = InviteServerTransaction | NonInviteServerTransaction;
type ClientTx = InviteClientTransaction | NonInviteClientTransaction;

export class TransactionLayer {
  readonly durations: TimerDurations;
  private readonly transport: Transport;
  private readonly log: Logger;
  private readonly wheel: TimerWheel;
  private readonly ctx: TransactionContext;
  private readonly clients = new Map<string, ClientTx>();
  private readonly servers = new Map<string, ServerTx>();
  private readonly acks = new Map<string, Retransmit2xx>();
  /** Completed non-INVITE server transactions, answering retransmissions until Timer J. */
  private readonly completed: CompletedStore;
  /** INVITE server transactions in Accepted or Confirmed, absorbing retransmissions until Timer L or I. */
  private readonly settled: SettledInvites;
  private readonly now: () => number;
  /**
   * Every path a datagram reaches logs through a limiter (one per kind of line), so a flood
   * of bad or unlucky messages cannot become a log flood; the lines left out are counted.
   */
  private readonly failedLog: RateLimitedLog;
  private readonly handlerLog: RateLimitedLog;
  private readonly sendLog: RateLimitedLog;
  private requestHandler: RequestHandler | undefined;
  private strayHandler: ResponseHandler | undefined;
  private readonly respondToSource: boolean;
  private readonly via: ViaOptions;
  private readonly sendTrying: boolean;
  private readonly retransmit2xx: boolean;
  private closed = false;
  private readonly bound: ServerTransactionBound;

  constructor(opts: TransactionLayerOptions) {
    this.transport = opts.transport;
    this.log = opts.log; // the composition root names it `sip.transaction`
    this.durations = timerDurations(opts.timers);
    this.wheel = new TimerWheel(opts.clock ?? systemClock, opts.timerGranularityMs ?? 10, (err) => this.log.error({ err }, "transaction timer threw"));
    this.respondToSource = opts.respondToSource ?? true;
    this.via = opts.via ?? {};
    this.sendTrying = opts.sendTrying ?? true;
    this.retransmit2xx = opts.retransmit2xx ?? true;
    const clock = opts.clock ?? systemClock;
    this.now = () => clock.now();
    this.failedLog = new RateLimitedLog(this.log, 5, this.now);
    this.handlerLog = new RateLimitedLog(this.log, 5, this.now);
    this.sendLog = new RateLimitedLog(this.log, 5, this.now);
    this.completed = new CompletedStore(this.wheel, this.durations.j, this.now);
    this.settled = new SettledInvites(this.wheel, this.now);
    this.bound = new ServerTransactionBound(opts.maxServerTransactions ?? DEFAULT_MAX_SERVER_TRANSACTIONS, opts.retryAfterS ?? DEFAULT_RETRY_AFTER_S, this.log, this.now);
    this.ctx = {
      transport: this.transport,
      wheel: this.wheel,
      durations: this.durations,
      log: this.log,
      terminated: (tx) => this.forget(tx),
      guard: (what, f) => this.guard(what, f),
      retire: (tx, wire) => this.retire(tx, wire),
      retireInvite: (tx) => this.retireInvite(tx),
      clientSettled: (tx) => this.clientSettled(tx),
    };
    this.transport.onMessage((msg, from) => this.receive(msg, from));
  }

  onRequest(h: RequestHandler): void {
    this.requestHandler = h;
  }

  onStrayResponse(h: ResponseHandler): void {
    this.strayHandler = h;
  }

  /** Live transactions and timers (tests, status, benchmarks). */
  /** The client transactions in progress, read-only (for inspection: which INVITE is still proceeding). */
  clientTransactions(): ClientTransaction[] {
    return [...this.clients.values()];
  }

  stats(): { clients: number; servers: number; timers: number; awaitingAck: number; refusedOverload: number } {
    return { clients: this.clients.size, servers: this.serverCount(), timers: this.wheel.size, awaitingAck: this.acks.size, refusedOverload: this.bound.refused };
  }

  /**
   * Start a client transaction. Adds our top Via with a new branch unless the request
   * already carries one with a z9hG4bK branch (§8.1.1.7). ACK has no transaction: use
   * sendAck; CANCEL for an INVITE: use cancel().
   */
  sendRequest(req: SipRequest, to: Endpoint, user: ClientTransactionUser, opts: { via?: ViaOptions } = {}): ClientTransaction {
    if (req.method === "ACK") throw new Error("ACK has no client transaction: use sendAck()");
    const branch = this.ensureVia(req, opts.via);
    const key = clientKey(branch, req.method);
    if (this.clients.has(key)) throw new Error(`a client transaction with branch ${branch} and method ${req.method} exists`);
    const tx = req.method === "INVITE" ? new InviteClientTransaction(this.ctx, key, branch, req, to, user) : new NonInviteClientTransaction(this.ctx, key, branch, req, to, user);
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  /** A client transaction got its final response, timed out or failed to send (once each); for subclasses. */
  protected clientSettled(_tx: ClientTransaction): void {}

  /** Stateless send of an ACK for a 2xx (§13.2.2.4), with a new branch when it has no Via. */
  sendAck(ack: SipRequest, to: Endpoint, opts: { via?: ViaOptions } = {}): void {
    this.ensureVia(ack, opts.via);
    this.transport.send(ack, to, (err) => this.sendLog.warn({ err }, "sending ACK failed"));
  }

  /**
   * §9.1: CANCEL an INVITE client transaction. Same branch, Request-URI, Call-ID, From,
   * To and CSeq number; sent only once a provisional came (queued until then); its own
   * non-INVITE client transaction. No effect once a final response came.
   */
  cancel(tx: ClientTransaction, extraHeaders: Header[] = []): void {
    if (!(tx instanceof InviteClientTransaction)) throw new Error("only an INVITE client transaction can be cancelled");
    if (tx.pendingCancel) return;
    tx.pendingCancel = extraHeaders;
    if (tx.state === "proceeding") this.sendCancel(tx);
    else if (tx.state === "calling") tx.onProceeding = () => this.sendCancel(tx);
  }

  /** A response outside any transaction, to `to` or where its top Via says (§18.2.2). */
  sendResponseStateless(res: SipResponse, to?: Endpoint): void {
    const dest = to ?? viaDestination(topVia(res), undefined);
    if (!dest) {
      this.sendLog.warn({ status: res.status }, "stateless response without a destination, dropped");
      return;
    }
    this.transport.send(res, dest, (err) => this.sendLog.warn({ err }, "sending stateless response failed"));
  }

  /** Stop every timer and forget every transaction (shutdown). */
  close(): void {
    this.closed = true;
    this.wheel.close();
    this.clients.clear();
    this.servers.clear();
    this.completed.clear();
    this.settled.clear();
    this.acks.clear();
  }

  // --- receiving ---------------------------------------------------------------------

  private receive(msg: SipMessage, from: Endpoint): void {
    if (this.closed) return;
    try {
      if (msg.kind === "response") this.receiveResponse(msg, from);
      else this.receiveRequest(msg, from);
    } catch (err) {
      this.failedLog.error({ err }, "transaction layer failed on a message");
    }
  }

  private receiveResponse(res: SipResponse, from: Endpoint): void {
    const key = responseKey(res);
    const tx = key === undefined ? undefined : this.clients.get(key);
    if (tx) tx.receiveResponse(res);
    else if (this.strayHandler) this.guard("onStrayResponse", () => this.strayHandler!(res, from));
  }

  private receiveRequest(req: SipRequest, from: Endpoint): void {
    const v = validateRequest(req);
    if (!v.ok) {
      // RFC 4475 §3.3: well-formed but unusable; answered statelessly (never an ACK).
      this.log.debug({ status: v.status, reason: v.reason, peer: from }, "rejecting invalid request");
      if (req.method !== "ACK") this.transport.send(buildResponse(req, v.status, v.reason), this.responseTarget(req, from));
      return;
    }
    if (req.method === "ACK") return this.receiveAck(req, from);
    const sk = serverKey(req, req.method);
    if (!sk) return;
    const existing = this.servers.get(sk.key);
    if (existing && (!sk.rfc2543 || tagOf(header(req, "to")) === requestToTag(existing))) {
      existing.receiveRequest(); // a retransmission (§17.2.3)
      return;
    }
    // §17.2.2 Completed: a retransmission gets the final response again, until Timer J.
    const done = this.completed.match(sk.key, sk.rfc2543 ? tagOf(header(req, "to")) : undefined);
    if (done) {
      this.transport.sendRaw(done.wire, done.dest, this.resendFailed);
      return;
    }
    // §17.2.1 Confirmed, RFC 6026 §7.1 Accepted: a retransmitted INVITE is absorbed.
    if (req.method === "INVITE" && this.settled.match(sk.key, sk.rfc2543 ? { requestToTag: tagOf(header(req, "to")) } : undefined)) return;
    const dest = this.responseTarget(req, from);
    if (!this.bound.admits(this.serverCount())) {
      this.transport.send(this.bound.refuse(req, from), dest);
      return;
    }
    if (req.method === "INVITE") {
      const tx = new InviteServerTransaction(this.ctx, sk.key, req, from, dest, (t, res, wire) => this.sent2xx(t, res, wire));
      this.servers.set(sk.key, tx);
      if (this.sendTrying) tx.respond(buildResponse(req, 100));
      return this.deliver(req, tx, from);
    }
    const tx = new NonInviteServerTransaction(this.ctx, sk.key, req, from, dest);
    this.servers.set(sk.key, tx);
    if (req.method === "CANCEL") return this.receiveCancel(req, tx);
    this.deliver(req, tx, from);
  }

  /** §17.2.3: an ACK matching an INVITE server transaction that sent 300–699 is absorbed. */
  private receiveAck(ack: SipRequest, from: Endpoint): void {
    const sk = serverKey(ack, "INVITE");
    const tx = sk && this.servers.get(sk.key);
    if (tx instanceof InviteServerTransaction && (tx.state === "completed" || tx.state === "confirmed")) {
      const ourTag = tagOf(header(tx.lastResponse ?? tx.request, "to"));
      if (!sk!.rfc2543 || tagOf(header(ack, "to")) === ourTag) {
        tx.receiveAck(ack);
        return;
      }
    }
    // Confirmed and retired (§17.2.1): ACK retransmissions are absorbed until Timer I.
    const settled = sk && !tx ? this.settled.match(sk.key, sk.rfc2543 ? { ackToTag: tagOf(header(ack, "to")) } : undefined) : undefined;
    if (settled?.confirmed) return;
    // An ACK for a 2xx (own transaction, §17.1.1.3), or one that matched nothing.
    const cs = cseqOf(ack);
    const cid = header(ack, "call-id");
    if (cs && cid !== undefined) {
      const k = ackKey(cid, cs.seq, tagOf(header(ack, "to")));
      const r = this.acks.get(k);
      if (r) {
        r.stop();
        this.acks.delete(k);
      }
    }
    this.deliver(ack, undefined, from);
  }

  /** §9.2: the layer answers CANCEL (200, or 481 when it matches nothing) and tells the INVITE's TU. */
  private receiveCancel(cancel: SipRequest, ctx: NonInviteServerTransaction): void {
    const sk = serverKey(cancel, "INVITE");
    const inv = sk && this.servers.get(sk.key);
    if (!(inv instanceof InviteServerTransaction)) {
      // Answered already and retired: 200 with the INVITE's To tag (§9.2), and no effect.
      const settled = sk && this.settled.match(sk.key, undefined);
      ctx.respond(settled ? buildResponse(cancel, 200, undefined, settled.toTag || undefined) : buildResponse(cancel, 481));
      return;
    }
    // §9.2: the CANCEL's response SHOULD carry the To tag of the INVITE's responses.
    const tag = tagOf(header(inv.lastResponse ?? inv.request, "to")) || undefined;
    ctx.respond(buildResponse(cancel, 200, undefined, tag));
    if (inv.state !== "proceeding") return; // already answered: CANCEL has no effect
    if (inv.onCancel) this.guard("onCancel", () => inv.onCancel!(cancel));
    else inv.respond(buildResponse(inv.request, 487, undefined, tag));
  }

  private deliver(req: SipRequest, tx: ServerTransaction | undefined, from: Endpoint): void {
    if (this.requestHandler) {
      this.guard("onRequest", () => this.requestHandler!(req, tx, from));
    } else if (tx) {
      tx.respond(buildResponse(req, 500, "No Handler"));
    }
  }

  // --- helpers -----------------------------------------------------------------------

  private sent2xx(tx: InviteServerTransaction, res: SipResponse, wire: Buffer): void {
    if (!this.retransmit2xx) return;
    const cs = cseqOf(res);
    const cid = header(res, "call-id");
    if (!cs || cid === undefined) return;
    const k = ackKey(cid, cs.seq, tagOf(header(res, "to")));
    this.acks.get(k)?.stop();
    const dest = tx.responseDestination;
    const r = new Retransmit2xx(
      this.wheel,
      this.durations,
      () => this.transport.sendRaw(wire, dest),
      () => {
        if (this.acks.get(k) === r) this.acks.delete(k);
        this.log.info({ call_id: cid }, "no ACK for 2xx after 64*T1");
        if (tx.onNoAck) this.guard("onNoAck", () => tx.onNoAck!());
      },
    );
    this.acks.set(k, r);
    r.start();
  }

  private sendCancel(tx: InviteClientTransaction): void {
    const cancel = deriveRequest(tx.request, "CANCEL", header(tx.request, "to") ?? "", tx.pendingCancel ?? []);
    this.sendRequest(cancel, tx.destination, {
      onResponse: (res) => this.log.debug({ status: res.status }, "CANCEL answered"),
      onTimeout: () => this.log.info("CANCEL timed out"),
      onTransportError: (_t, err) => this.sendLog.warn({ err }, "CANCEL transport error"),
    });
  }

  /** Where responses to this request go: the source (NAT), or §18.2.2 / RFC 3581 §4. */
  private responseTarget(req: SipRequest, from: Endpoint): Endpoint {
    if (this.respondToSource) return from;
    return viaDestination(topVia(req), from) ?? from;
  }

  /** Returns the branch of the request's top Via, adding our Via first when needed. */
  private ensureVia(req: SipRequest, o: ViaOptions | undefined): string {
    const existing = topVia(req)?.params.get("branch");
    if (existing && existing.startsWith(MAGIC_COOKIE)) return existing;
    const branch = newBranch();
    const local = this.transport.local;
    const host = o?.host ?? this.via.host ?? local.address;
    const params = new Map<string, string | null>();
    if (o?.rport ?? this.via.rport ?? false) params.set("rport", null);
    params.set("branch", branch);
    const value = formatVia({ transport: "UDP", host: host.includes(":") && !host.startsWith("[") ? `[${host}]` : host, port: o?.port ?? this.via.port ?? local.port, params });
    prependHeader(req, "via", value);
    return branch;
  }

  /**
   * Hands a completed non-INVITE server transaction to the compact store (§17.2.2: it only
   * resends its final response until Timer J). Kept as an object when its TU asked to hear
   * of its end or of transport errors, which the store does not report.
   */
  private retire(tx: RetiringServerTransaction, wire: Buffer): void {
    if (tx.onTerminated || tx.onTransportError || this.closed) return;
    if (this.servers.get(tx.key) !== (tx as unknown)) return;
    this.servers.delete(tx.key);
    tx.retired(this.completed.add(tx.key, wire, tx.responseDestination, tx.requestToTag), this.now);
  }

  /**
   * Hands an INVITE server transaction in Accepted or Confirmed to the settled records: it
   * only absorbs retransmissions until Timer L (Accepted, RFC 6026 §7.1) or I (Confirmed,
   * §17.2.1). Kept as an object when its TU asked to hear of its end or of transport errors.
   */
  private retireInvite(tx: RetiringInviteServerTransaction): void {
    if (tx.onTerminated || tx.onTransportError || this.closed) return;
    if (this.servers.get(tx.key) !== (tx as unknown)) return;
    const confirmed = tx.state === "confirmed";
    this.servers.delete(tx.key);
    // The INVITE's own To tag is compared only under RFC 2543 matching (keys.ts).
    const requestToTag = tx.key.startsWith("2543\u0000") ? tx.requestToTag : "";
    tx.retired(this.settled.add(tx.key, confirmed ? this.durations.i : this.durations.l, confirmed, tx.toTag, requestToTag), this.now);
  }

  /** Server transactions the layer answers for: live objects and compact records. */
  private serverCount(): number {
    return this.servers.size + this.completed.size + this.settled.size;
  }

  /** Bound once: a resend from the store that failed is only logged (its TU is gone). */
  private readonly resendFailed = (err: Error): void => {
    this.log.debug({ err }, "resending a completed transaction's final response failed");
  };

  private forget(tx: TransactionRef): void {
    if (tx.kind === "client") {
      if (this.clients.get(tx.key) === tx) this.clients.delete(tx.key);
    } else if (this.servers.get(tx.key) === tx) this.servers.delete(tx.key);
  }

  private guard(what: string, f: () => void): void {
    try {
      f();
    } catch (err) {
      this.handlerLog.error({ err, handler: what }, "transaction user handler threw");
    }
  }
}

/** A server transaction's request To tag (a non-INVITE one keeps only that after completing). */
function requestToTag(tx: ServerTx): string {
  return tx instanceof NonInviteServerTransaction ? tx.requestToTag : tagOf(header(tx.request, "to"));
}
