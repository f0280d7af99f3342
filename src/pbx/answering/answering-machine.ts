/**
 * The answering machine as a side of a call (a SipSide) and a place an inbound call rings
 * (an AnsweringPort): a fork that answers itself. The call places its leg toward the machine
 * like toward a phone, over an in-process SIP link (two transaction layers on an in-memory
 * network, nothing on the wire), so the call's state machine, the trunk's rules toward the
 * line (100rel, session timers, the answer's shape) and the CANCEL/BYE paths are exactly
 * those of a phone's answer. Only the media differs: the machine ends it itself, on a socket
 * of its own on the trunk's address (`terminatesMedia`), without the relay.
 */
import { randomBytes } from "node:crypto";
import type { Clock, TimerHandle } from "../../clock.js";
import type { Logger } from "../../log.js";
import type { Endpoint, Header, SipRequest } from "../../sip/message/types.js";
import { createResponse, getHeader, tagOf } from "../../sip/message/index.js";
import { dialogKey } from "../../sip/dialog/dialog.js";
import { createMemoryNetwork } from "../../sip/transport.js";
import { TransactionLayer, type ServerTransaction } from "../../sip/transaction/layer.js";
import type { VoicemailSessionApi } from "../../voicemail/types.js";
import type { AnsweringPort, CallTarget, SipSide } from "../call-types.js";
import { AnsweringCall, type AnsweringCallHost, type AnsweringPlan, type MachineMedia, type Recording, type SessionStart } from "./answering-call.js";

/** The two ends of the in-process link (addresses only ever seen on it). */
const PBX_END: Endpoint = { address: "127.0.0.1", port: 1 };
const MACHINE_END: Endpoint = { address: "127.0.0.1", port: 2 };

/**
 * RFC 3326 Reason on the CANCELs to the phones still ringing when the machine answers. Not
 * `SIP;cause=200;text="Call completed elsewhere"`: phones file a call with that reason as
 * answered elsewhere, and nobody in the household answered: it must show as missed. 480
 * (Temporarily Unavailable, RFC 3261 §21.4.18) is what the caller would have heard from the
 * unanswered phones; the text says where the call went.
 */
export const VOICEMAIL_REASON: Header = { name: "reason", value: 'SIP;cause=480;text="Voicemail"' };

/** A plan waits this long for its INVITE (64·T1): a call refused before ringing never sends one. */
const PLAN_TTL_MS = 32_000;
/** Calls waiting to reach the machine at once: as many as calls can ring; bounded anyway. */
const MAX_PLANS = 64;

export interface AnsweringMachineOptions {
  clock: Clock;
  log: Logger;
  /** Ringing before it answers, ms (`voicemail.answer_after_s`). */
  answerAfterMs: number;
  /** The called numbers it answers (`voicemail.numbers`); every number when absent. */
  numbers?: readonly string[];
  bindMedia(address: string): Promise<MachineMedia>;
  startSession(s: SessionStart): VoicemailSessionApi;
  onRecording(rec: Recording): void;
}

/** Where requests from the machine (its BYE) enter the PBX, as the trunk's do. */
export interface AnsweringPbxPort {
  onInDialog(req: SipRequest, tx: ServerTransaction): boolean;
  onAck(req: SipRequest): void;
}

export class AnsweringMachine implements SipSide, AnsweringPort {
  readonly name = "voicemail";
  readonly terminatesMedia = true;
  readonly answeredReason = VOICEMAIL_REASON;
  readonly host = PBX_END.address;
  readonly port = PBX_END.port;
  /** The PBX's end of the link: the call's legs toward the machine go through it. */
  readonly tx: TransactionLayer;
  private readonly machineTx: TransactionLayer;
  private readonly plans = new Map<string, { plan: AnsweringPlan; expiry: TimerHandle }>();
  private readonly calls = new Map<string, AnsweringCall>();
  private readonly callHost: AnsweringCallHost;
  private pbx?: AnsweringPbxPort;

  constructor(private readonly opts: AnsweringMachineOptions) {
    const net = createMemoryNetwork({ now: () => opts.clock.now(), record: false });
    const log = opts.log;
    this.tx = new TransactionLayer({ transport: net.transport(PBX_END), log, clock: opts.clock });
    this.machineTx = new TransactionLayer({ transport: net.transport(MACHINE_END), log, clock: opts.clock });
    this.tx.onRequest((req, tx) => this.toPbx(req, tx));
    this.machineTx.onRequest((req, tx) => this.toMachine(req, tx));
    this.callHost = {
      clock: opts.clock,
      log,
      tx: this.machineTx,
      local: MACHINE_END,
      bindMedia: (address) => opts.bindMedia(address),
      startSession: (s) => opts.startSession(s),
      onRecording: (rec) => opts.onRecording(rec),
      done: (call) => this.calls.delete(call.dialog.key),
    };
  }

  /** The PBX the machine's requests go to (set once the PBX exists). */
  attach(pbx: AnsweringPbxPort): void {
    this.pbx = pbx;
  }

  /** Whether it answers calls to `called` (`voicemail.numbers`). */
  answers(called: string): boolean {
    return !this.opts.numbers || this.opts.numbers.includes(called);
  }

  /** Calls it is taking now (ringing or recording). */
  get activeCalls(): number {
    return this.calls.size;
  }

  /** AnsweringPort: its fork for one inbound call. */
  target(called: string, mediaAddress: string, when: "now" | "delayed", callId: string): CallTarget | undefined {
    if (!this.answers(called)) return undefined;
    if (this.plans.size >= MAX_PLANS) {
      this.opts.log.warn({ plans: this.plans.size }, "answering machine: too many calls waiting for it: this one is not answered");
      return undefined;
    }
    const id = randomBytes(8).toString("hex");
    const plan: AnsweringPlan = { called, callId, mediaAddress, answerAfterMs: when === "now" ? 0 : this.opts.answerAfterMs };
    this.plans.set(id, { plan, expiry: this.opts.clock.setTimeout(() => this.plans.delete(id), PLAN_TTL_MS) });
    const uri = { scheme: "sip" as const, user: `vm-${id}`, host: MACHINE_END.address, port: MACHINE_END.port, params: new Map(), headers: new Map() };
    return {
      side: this,
      uri,
      destination: MACHINE_END,
      to: { displayName: "Voicemail", uri, params: new Map() },
      label: "voicemail",
      voicemail: true,
    };
  }

  /** The machine's end: a new INVITE for a plan, or a request in one of its calls' dialogs. */
  private toMachine(req: SipRequest, tx: ServerTransaction | undefined): void {
    const toTag = tagOf(getHeader(req, "to"));
    if (toTag) {
      const call = this.calls.get(dialogKey(getHeader(req, "call-id") ?? "", toTag));
      if (req.method === "ACK") return call?.onAck(req);
      if (!tx) return;
      if (!call) return tx.respond(createResponse(req, 481, "Call/Transaction Does Not Exist"));
      return call.onRequest(req, tx);
    }
    if (!tx) return;
    const id = /^vm-([0-9a-f]{16})$/.exec(req.uri.user ?? "")?.[1];
    const filed = req.method === "INVITE" && id ? this.plans.get(id) : undefined;
    if (!filed) return tx.respond(createResponse(req, req.method === "INVITE" ? 404 : 405, req.method === "INVITE" ? "Not Found" : "Method Not Allowed", { toTag: "vm" }));
    this.plans.delete(id!);
    this.opts.clock.clearTimeout(filed.expiry);
    const call = new AnsweringCall(this.callHost, filed.plan, req, tx);
    this.calls.set(call.dialog.key, call);
    call.start();
  }

  /** The PBX's end: the machine's BYE for a call, into the PBX like the trunk's requests. */
  private toPbx(req: SipRequest, tx: ServerTransaction | undefined): void {
    if (req.method === "ACK") return this.pbx?.onAck(req);
    if (!tx) return;
    if (!this.pbx?.onInDialog(req, tx)) tx.respond(createResponse(req, 481, "Call/Transaction Does Not Exist", { toTag: "vm" }));
  }

  /** Shutdown: the PBX already ended the calls (their BYEs reached the machine); stop the layers. */
  close(): void {
    for (const { expiry } of this.plans.values()) this.opts.clock.clearTimeout(expiry);
    this.plans.clear();
    for (const call of [...this.calls.values()]) call.hangup("gateway shutting down");
    this.tx.close();
    this.machineTx.close();
  }
}
