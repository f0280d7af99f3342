/**
 * The NGN as a side of a call (a SipSide for the B2BUA): what the trunk leg needs that a
 * phone leg does not. PCMU-only SDP; RFC 4028 session timers (echo Session-Expires with
 * Require: timer in our 200, answer the NGN's UPDATE/re-INVITE refreshes ourselves, count
 * every 2xx we send it for one as a refresh, refresh when we are the refresher, end the call
 * when nobody does); RFC 3262 reliable provisionals both ways (PRACK what the NGN sends
 * reliably, send ours reliably when it supports 100rel, one at a time); and only the
 * methods the NGN takes ever reach it.
 */
import type { Clock, TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import type { SipRequest, SipResponse } from "../sip/message/types.js";
import { createResponse, getHeader, getHeaders, setHeader } from "../sip/message/index.js";
import type { ServerTransaction, TransactionLayer } from "../sip/transaction/layer.js";
import type { Leg, SipSide } from "../pbx/call-types.js";
import { shapeForNgn, sdpVersion } from "./ngn-sdp.js";
import { parseSessionExpires, SessionTimer } from "./session-timer.js";

export interface NgnSideOptions {
  tx: TransactionLayer;
  host: string;
  port: number;
  clock: Clock;
  log: Logger;
  /** Session-Expires we ask for on outbound calls (NGN answers 300). */
  sessionExpires: number;
}

/** What we support toward the NGN, and the only in-dialog methods it gets from us. */
export const NGN_ALLOW = "INVITE, ACK, BYE, CANCEL, PRACK, UPDATE";
const NGN_METHODS = new Set(NGN_ALLOW.split(", "));
/** RFC 3261 §17.1.1.1 T1, for the reliable-provisional retransmissions (RFC 3262 §3). */
const T1_MS = 500;

/** Per-leg state on the NGN side. */
interface LegState {
  timer?: SessionTimer;
  /** Last SDP version the NGN sent: an unchanged version in a re-INVITE/UPDATE is a refresh. */
  remoteVersion?: string;
  /** Reliable provisional we sent, retransmitted until PRACK (RFC 3262 §3). */
  reliable?: { timer?: TimerHandle; res: SipResponse; tx: ServerTransaction; interval: number; deadline: number };
  /** Our 2xx, held while a reliable provisional with SDP is un-PRACKed (RFC 3262 §3). */
  heldFinal?: () => void;
  /** A provisional that must go reliably but came while `reliable` was un-PRACKed (RFC 3262 §3). */
  queued?: { res: SipResponse; tx: ServerTransaction; invite: SipRequest };
  rseq: number;
  /** RSeq values of the NGN's reliable provisionals already PRACKed. */
  acked: Set<number>;
}

export class NgnSide implements SipSide {
  readonly name = "trunk";
  readonly keepsOffers = true;
  readonly ownsSessionTimer = true;
  readonly allow = NGN_ALLOW;
  readonly tx: TransactionLayer;
  readonly host: string;
  readonly port: number;
  private readonly legs = new WeakMap<Leg, LegState>();

  constructor(private readonly opts: NgnSideOptions) {
    this.tx = opts.tx;
    this.host = opts.host;
    this.port = opts.port;
  }

  private state(leg: Leg): LegState {
    let s = this.legs.get(leg);
    if (!s) {
      s = { rseq: Math.floor(Math.random() * 1000) + 1, acked: new Set() };
      this.legs.set(leg, s);
    }
    return s;
  }

  shapeSdp(sdp: string): string | null {
    return shapeForNgn(sdp);
  }

  /** Headers for the B-leg INVITE we place toward the NGN. */
  inviteHeaders(): { name: string; value: string }[] {
    return [
      { name: "supported", value: "100rel, timer" },
      { name: "session-expires", value: String(this.opts.sessionExpires) },
      { name: "min-se", value: "90" },
      // No Allow here: the B-leg INVITE gets one Allow, the side's `allow` (item 12 of R1).
    ];
  }

  /** docs/ngn.md "Registration": never OPTIONS; only INVITE, ACK, BYE, CANCEL, PRACK and UPDATE go to the NGN. */
  relays(method: string): boolean {
    return NGN_METHODS.has(method);
  }

  /** Our 200 to the NGN's INVITE/refresh: echo Session-Expires and require timer (docs/ngn.md "Inbound calls"). */
  answerHeaders(invite: SipRequest): { name: string; value: string }[] {
    const se = getHeader(invite, "session-expires");
    if (!se) return [{ name: "allow", value: NGN_ALLOW }];
    const spec = /^\s*(\d+)/.exec(se)?.[1] ?? String(this.opts.sessionExpires);
    const refresher = /refresher\s*=\s*(uac|uas)/i.exec(se)?.[1]?.toLowerCase() ?? "uac";
    return [
      { name: "session-expires", value: `${spec};refresher=${refresher}` },
      { name: "require", value: "timer" },
      { name: "supported", value: "100rel, timer" },
      { name: "allow", value: NGN_ALLOW },
    ];
  }

  /**
   * A provisional we send to the NGN: reliable when it supports 100rel (RFC 3262 §3).
   * §3 forbids a second reliable provisional before the first is PRACKed. One that comes
   * meanwhile (the phone's 183 with early-media SDP after our reliable 180) still goes out
   * now, unreliably, so the NGN's caller hears the progress at once, and a reliable copy is
   * queued and sent when the PRACK comes: SDP in an unreliable provisional is no answer
   * the NGN may rely on (§5), so the early media is only certain once that copy arrives.
   */
  provisionalOut(leg: Leg, invite: SipRequest, res: SipResponse, tx: ServerTransaction): void {
    const supported = [...getHeaders(invite, "supported"), ...getHeaders(invite, "require")].some((v) => /(^|,)\s*100rel\s*($|,)/i.test(v));
    if (!supported || res.status === 100) return;
    const s = this.state(leg);
    if (s.reliable) {
      const same = s.reliable.res.status === res.status && s.reliable.res.body.equals(res.body);
      if (!same) s.queued = { res: { ...res, headers: res.headers.map((h) => ({ ...h })) }, tx, invite };
      return;
    }
    this.sendReliable(leg, s, res, tx);
  }

  private sendReliable(leg: Leg, s: LegState, res: SipResponse, tx: ServerTransaction): void {
    s.rseq++;
    setHeader(res, "require", "100rel");
    setHeader(res, "rseq", String(s.rseq));
    const r = { res, tx, interval: T1_MS, deadline: this.opts.clock.now() + 64 * T1_MS, timer: undefined as TimerHandle | undefined };
    s.reliable = r;
    const again = () => {
      if (s.reliable !== r) return;
      if (tx.state !== "proceeding") return this.stopReliable(s);
      if (this.opts.clock.now() >= r.deadline) return this.noPrack(leg, s, tx);
      tx.respond(res);
      r.interval = Math.min(r.interval * 2, 4000);
      r.timer = this.opts.clock.setTimeout(again, Math.min(r.interval, Math.max(0, r.deadline - this.opts.clock.now())));
    };
    r.timer = this.opts.clock.setTimeout(again, r.interval);
  }

  /**
   * RFC 3262 §3: "[the UAS] MUST NOT send a final response until those provisional
   * responses are acknowledged" when one of them carried a session description. The 2xx
   * waits for the PRACK (which comes within a round trip from a live NGN); the reliable
   * provisional keeps being retransmitted meanwhile, and 64*T1 without a PRACK still ends
   * the call with a 5xx.
   */
  holdFinal(leg: Leg, send: () => void): boolean {
    const s = this.legs.get(leg);
    if (!s?.reliable || s.reliable.res.body.length === 0) return false;
    s.heldFinal = send;
    s.queued = undefined; // the 2xx supersedes any provisional still waiting its turn
    return true;
  }

  /** §3: no PRACK within 64*T1: reject the INVITE with a 5xx, and end the call (the phone stops ringing). */
  private noPrack(leg: Leg, s: LegState, tx: ServerTransaction): void {
    this.stopReliable(s);
    this.opts.log.warn({ rseq: s.rseq }, "no PRACK for our reliable provisional after 64*T1: rejecting the call with 500");
    tx.respond(createResponse(tx.request, 500, "Provisional Response Not Acknowledged", { toTag: leg.dialog.localTag }));
    leg.control.hangup("no PRACK from the line");
  }

  private stopReliable(s: LegState): void {
    if (s.reliable) this.opts.clock.clearTimeout(s.reliable.timer);
    s.reliable = undefined;
    s.queued = undefined;
    s.heldFinal = undefined;
  }

  /** A provisional from the NGN on a leg we placed: PRACK it when it is reliable (RFC 3262 §4). */
  onProvisional(leg: Leg, res: SipResponse): void {
    const rseq = Number(getHeader(res, "rseq"));
    const required = getHeaders(res, "require").some((v) => /100rel/i.test(v));
    if (!required || !Number.isInteger(rseq)) return;
    const s = this.state(leg);
    if (s.acked.has(rseq)) return; // a retransmission: the PRACK already went
    s.acked.add(rseq);
    // The NGN's early answer (183 + SDP, reliable) is the answer: the 200 may carry no SDP
    // under 100rel (RFC 3262 §5), and a later refresh is judged against this version.
    if (res.body.length > 0) s.remoteVersion = sdpVersion(res.body.toString("utf8")) ?? s.remoteVersion;
    const cs = getHeader(res, "cseq") ?? "";
    const prack = leg.dialog.createRequest("PRACK", {
      contact: `<sip:${this.host}:${this.port}>`,
      headers: [{ name: "rack", value: `${rseq} ${cs.trim()}` }],
    });
    this.tx.sendRequest(prack, leg.peer, {
      onResponse: () => undefined,
      onTimeout: () => this.opts.log.warn("PRACK timed out"),
      onTransportError: () => undefined,
    });
  }

  /** The dialog is up: run the session timer (RFC 4028 §9/§10). */
  onConfirmed(leg: Leg, invite: SipRequest, res: SipResponse | undefined): void {
    const s = this.state(leg);
    // A reliable provisional with SDP still waiting for its PRACK holds our 2xx (holdFinal)
    // and keeps being retransmitted until then; any other is done with.
    if (!s.reliable || s.reliable.res.body.length === 0) this.stopReliable(s);
    // Outbound (we are UAC): the 2xx says who refreshes. Inbound: the NGN's INVITE did.
    const spec = res ? parseSessionExpires(getHeader(res, "session-expires"), true) : parseSessionExpires(getHeader(invite, "session-expires"), false);
    const remote = res ? res.body.toString("utf8") : invite.body.toString("utf8");
    if (remote) s.remoteVersion = sdpVersion(remote); // else keep the version a reliable 18x taught us
    if (!spec) return;
    s.timer?.stop();
    s.timer = new SessionTimer(
      this.opts.clock,
      spec,
      () => this.sendRefresh(leg, spec.interval),
      () => {
        this.opts.log.warn({ interval_s: spec.interval }, "session timer expired without a refresh: ending the call");
        leg.control.hangup("session timer expired");
      },
    );
  }

  private sendRefresh(leg: Leg, interval: number): void {
    const update = leg.dialog.createRequest("UPDATE", {
      contact: `<sip:${this.host}:${this.port}>`,
      headers: [
        { name: "session-expires", value: `${interval};refresher=uac` },
        { name: "supported", value: "timer" },
      ],
    });
    this.tx.sendRequest(update, leg.peer, {
      onResponse: (res) => {
        if (res.status >= 200 && res.status < 300) this.state(leg).timer?.refreshed(parseSessionExpires(getHeader(res, "session-expires"), true));
      },
      onTimeout: () => leg.control.hangup("session refresh timed out"),
      onTransportError: () => undefined,
    });
  }

  /**
   * Requests the gateway answers itself: PRACK for our reliable 180, and session refreshes
   * (UPDATE without SDP, or re-INVITE/UPDATE whose SDP version did not change), which must
   * not bother the phone.
   */
  absorb(leg: Leg, req: SipRequest, tx: ServerTransaction, lastSdp: string | undefined): boolean {
    const s = this.state(leg);
    if (req.method === "PRACK") {
      // RFC 3262 §3: a PRACK whose RAck names no reliable provisional we sent gets 481.
      const rseq = Number(/^\s*(\d+)/.exec(getHeader(req, "rack") ?? "")?.[1]);
      if (!Number.isInteger(rseq) || rseq > s.rseq) {
        tx.respond(createResponse(req, 481, "Call/Transaction Does Not Exist"));
        return true;
      }
      tx.respond(createResponse(req, 200, "OK"));
      if (rseq === s.rseq && s.reliable) {
        const next = s.queued;
        const held = s.heldFinal;
        this.stopReliable(s);
        if (held) {
          held();
          return true;
        }
        // §3: the next reliable provisional may go now that the previous one is PRACKed.
        if (next && next.tx.state === "proceeding") {
          this.sendReliable(leg, s, next.res, next.tx);
          next.tx.respond(next.res);
        }
      }
      return true;
    }
    if (req.method !== "UPDATE" && req.method !== "INVITE") return false;
    const body = req.body.toString("utf8");
    const isRefresh = body.length === 0 ? req.method === "UPDATE" || lastSdp !== undefined : sdpVersion(body) === s.remoteVersion;
    // A new offer goes to the phone; its version becomes the NGN's current one only when
    // the phone accepts it (answeredRefresh): a refused offer the NGN retries is still new.
    if (!isRefresh) return false;
    const ok = createResponse(req, 200, "OK");
    for (const h of this.answerHeaders(req)) setHeader(ok, h.name, h.value);
    setHeader(ok, "contact", `<sip:${this.host}:${this.port}>`);
    // A re-INVITE always gets our SDP (an answer, or the offer for one without SDP); an
    // UPDATE with an offer needs its answer in the 2xx too (RFC 3311 §5.2), and for an
    // unchanged offer that is our last SDP, unchanged (RFC 3264 §8).
    if ((req.method === "INVITE" || body.length > 0) && lastSdp) {
      ok.body = Buffer.from(lastSdp);
      setHeader(ok, "content-type", "application/sdp");
    }
    this.answeredRefresh(leg, req, ok);
    tx.respond(ok);
    return true;
  }

  /**
   * A 2xx we send the NGN for its re-INVITE or UPDATE, answered here or relayed from the
   * phone: RFC 4028 §10 makes every one a refresh, so the timer runs again from the
   * Session-Expires that 2xx states (as seen by us, the UAS of that request).
   */
  answeredRefresh(leg: Leg, req: SipRequest, res: SipResponse): void {
    if (res.status < 200 || res.status >= 300) return;
    const s = this.state(leg);
    const offered = req.body.length > 0 ? sdpVersion(req.body.toString("utf8")) : undefined;
    if (offered !== undefined) s.remoteVersion = offered;
    s.timer?.refreshed(parseSessionExpires(getHeader(res, "session-expires"), false));
  }

  onEnded(leg: Leg): void {
    const s = this.legs.get(leg);
    if (!s) return;
    s.timer?.stop();
    this.stopReliable(s);
  }
}
