/**
 * One call the answering machine takes: the UAS end (RFC 3261 §12.1.1) of the fork the call
 * placed toward it. It rings (180) while its answer delay runs, binds its RTP socket, answers
 * 200 with its SDP, and once the caller's ACK confirms the dialog runs the voicemail session
 * (greeting, beep, recording). The message ends by the caller's BYE, or by itself (DTMF `#`,
 * the length limit, silence): then the machine sends BYE. A CANCEL ends it before the answer.
 */
import type { Clock, TimerHandle } from "../../clock.js";
import type { Logger } from "../../log.js";
import type { Endpoint, Header, SipRequest } from "../../sip/message/types.js";
import { createResponse, fromAddr, newTag, setHeader } from "../../sip/message/index.js";
import { Dialog } from "../../sip/dialog/dialog.js";
import type { ServerTransaction, TransactionLayer } from "../../sip/transaction/layer.js";
import type { VoicemailSessionApi, VoicemailSessionResult, VoicemailSocket } from "../../voicemail/types.js";
import { callerMedia, machineSdp, type CallerMedia } from "./answer-sdp.js";
import { AnsweringStateMachine } from "./answering-state.js";
import { quietUser } from "../call-linger.js";
import { q850Reason, Q850 } from "../call-reason.js";

/** The machine's RTP socket: one port of `media.rtp_ports` on the address the caller reaches. */
export interface MachineMedia {
  socket: VoicemailSocket;
  port: number;
  close(): void;
}

/** What a session needs from the call; the rest (greeting, beep, limits) the machine's owner adds. */
export interface SessionStart {
  socket: VoicemailSocket;
  remote: { address: string; port: number };
  payloadType: 0 | 8;
  telephoneEventPt?: number;
  log: Logger;
}

/** A finished message, for the store and the events. */
export interface Recording {
  /** The caller's number as the call presented it ("" when withheld). */
  from: string;
  name?: string;
  /** The line's number that was called. */
  called: string;
  /** The call's id, as in its `call` events. */
  callId: string;
  /** When the machine answered (ms since the epoch). */
  startedAt: number;
  result: VoicemailSessionResult;
}

/** What one answered call needs from the machine. */
export interface AnsweringCallHost {
  readonly clock: Clock;
  readonly log: Logger;
  /** The machine's end of the in-process SIP link. */
  readonly tx: TransactionLayer;
  readonly local: Endpoint;
  bindMedia(address: string): Promise<MachineMedia>;
  startSession(s: SessionStart): VoicemailSessionApi;
  onRecording(rec: Recording): void;
  /** The call is over: forget its dialog. */
  done(call: AnsweringCall): void;
}

/** What the fork's target told the machine about this call. */
export interface AnsweringPlan {
  called: string;
  /** The inbound call's id (its events' `call_id`). */
  callId: string;
  /** The address the caller's RTP reaches (the trunk's): the socket binds there. */
  mediaAddress: string;
  answerAfterMs: number;
}

export class AnsweringCall {
  readonly dialog: Dialog;
  private readonly fsm: AnsweringStateMachine;
  private readonly log: Logger;
  private timer?: TimerHandle;
  private media?: MachineMedia;
  private session?: VoicemailSessionApi;
  private caller: CallerMedia | undefined;
  private sdp?: string;
  private startedAt = 0;
  private readonly sessionId = Math.floor(Math.random() * 1e9);
  /** Where requests to the caller's side go (the PBX's end of the link). */
  private readonly peer: Endpoint;

  constructor(
    private readonly host: AnsweringCallHost,
    private readonly plan: AnsweringPlan,
    private readonly invite: SipRequest,
    private readonly tx: ServerTransaction,
  ) {
    this.dialog = Dialog.asUas(invite, newTag());
    this.log = host.log.child({ voicemail_call: this.dialog.callId });
    this.fsm = new AnsweringStateMachine(this.log);
    this.peer = tx.source;
  }

  get state(): string {
    return this.fsm.state;
  }

  /** Ring, and answer after the plan's delay. */
  start(): void {
    this.tx.onCancel = () => this.onCancel();
    if (this.invite.body.length > 0) {
      this.caller = callerMedia(this.invite.body.toString("utf8"));
      if (!this.caller) {
        // RFC 3264 §6: no stream we can take (neither PCMU nor PCMA): refuse the offer.
        this.log.warn("answering machine: the caller offers neither PCMU nor PCMA");
        this.tx.respond(this.response(488, "Not Acceptable Here"));
        return this.end();
      }
    }
    this.tx.respond(this.response(180, "Ringing"));
    this.timer = this.host.clock.setTimeout(() => this.answer(), this.plan.answerAfterMs);
  }

  private response(status: number, reason: string) {
    const res = createResponse(this.invite, status, reason, { toTag: this.dialog.localTag });
    if (status > 100 && status < 300) setHeader(res, "contact", this.contact());
    return res;
  }

  private contact(): string {
    return `<sip:voicemail@${this.host.local.address}:${this.host.local.port}>`;
  }

  private answer(): void {
    this.timer = undefined;
    if (!this.fsm.transition("answering")) return;
    this.host
      .bindMedia(this.plan.mediaAddress)
      .then((media) => {
        if (this.fsm.ended) return media.close(); // cancelled while binding
        this.media = media;
        this.sdp = machineSdp(this.plan.mediaAddress, media.port, this.caller, this.sessionId);
        const ok = this.response(200, "OK");
        ok.body = Buffer.from(this.sdp);
        setHeader(ok, "content-type", "application/sdp");
        this.tx.onNoAck = () => {
          this.log.warn("answering machine: no ACK for our 200: hanging up");
          this.hangup("no ACK");
        };
        this.fsm.transition("accepted");
        this.startedAt = this.host.clock.now();
        this.dialog.confirm();
        this.tx.respond(ok);
        this.log.info({ port: media.port, remote: this.caller ? `${this.caller.address}:${this.caller.port}` : "late offer" }, "answering machine answered");
      })
      .catch((err: unknown) => {
        if (this.fsm.ended) return;
        this.log.error({ err }, "answering machine: no RTP port to answer with");
        this.tx.respond(this.response(503, "Service Unavailable"));
        this.end();
      });
  }

  /** The caller's ACK for our 200: the dialog is confirmed, the greeting starts. */
  onAck(ack: SipRequest): void {
    if (this.fsm.state !== "accepted") return;
    this.tx.onNoAck = undefined;
    // A late offer: our 200 made the offer, the ACK carries the answer (RFC 3261 §13.2.2.4).
    if (!this.caller && ack.body.length > 0) this.caller = callerMedia(ack.body.toString("utf8"));
    const caller = this.caller;
    const media = this.media;
    if (!caller || !media) {
      this.log.warn("answering machine: the caller's answer has no usable audio: hanging up");
      return this.hangup("no usable media");
    }
    this.fsm.transition("recording");
    const session = this.host.startSession({ socket: media.socket, remote: { address: caller.address, port: caller.port }, payloadType: caller.payloadType, telephoneEventPt: caller.telephoneEventPt, log: this.log });
    this.session = session;
    session.run().then(
      (result) => this.recorded(result),
      (err: unknown) => {
        this.log.error({ err }, "voicemail session failed");
        this.hangup("voicemail failed");
      },
    );
  }

  /** The session ended: by the caller's BYE, or by itself (then we hang up). */
  private recorded(result: VoicemailSessionResult): void {
    const byItself = !this.fsm.ended;
    if (byItself) this.hangup(`message ended (${result.reason})`);
    this.log.info({ reason: result.reason, duration_s: result.durationS, stats: result.stats }, "voicemail recorded");
    if (result.samples.length === 0) return; // hung up during the greeting: no message
    const from = fromAddr(this.invite);
    const number = from.uri.user ?? "";
    this.host.onRecording({ from: number === "anonymous" ? "" : number, name: from.displayName, called: this.plan.called, callId: this.plan.callId, startedAt: this.startedAt, result });
  }

  /** A request in our dialog from the caller's side (BYE, a re-INVITE the line sent on). */
  onRequest(req: SipRequest, tx: ServerTransaction): void {
    if (!this.dialog.acceptRemoteSeq(req)) return tx.respond(createResponse(req, 500, "Server Internal Error"));
    switch (req.method) {
      case "BYE":
        tx.respond(createResponse(req, 200, "OK"));
        this.log.info("caller hung up");
        this.end();
        return;
      case "INVITE":
      case "UPDATE": {
        // A new offer in the call (RFC 3264 §8): the stream stays where it is; answer it with our SDP.
        const ok = createResponse(req, 200, "OK");
        setHeader(ok, "contact", this.contact());
        if (this.sdp && (req.method === "INVITE" || req.body.length > 0)) {
          ok.body = Buffer.from(this.sdp);
          setHeader(ok, "content-type", "application/sdp");
        }
        return tx.respond(ok);
      }
      case "INFO":
      case "OPTIONS":
        return tx.respond(createResponse(req, 200, "OK"));
      default: {
        const res = createResponse(req, 405, "Method Not Allowed");
        setHeader(res, "allow", "INVITE, ACK, BYE, CANCEL, UPDATE, INFO, OPTIONS");
        return tx.respond(res);
      }
    }
  }

  private onCancel(): void {
    if (this.fsm.state !== "ringing" && this.fsm.state !== "answering") return;
    this.tx.respond(this.response(487, "Request Terminated"));
    this.end();
  }

  /** End from our side: BYE once answered (the caller's leg then hangs up), with a Reason (RFC 3326). */
  hangup(why: string): void {
    if (this.fsm.ended) return;
    if (this.fsm.state === "accepted" || this.fsm.state === "recording") {
      const reason: Header = q850Reason(Q850.normal, why);
      const bye = this.dialog.createRequest("BYE", { contact: this.contact(), headers: [reason] });
      this.host.tx.sendRequest(bye, this.peer, quietUser(this.log, "voicemail"));
    } else if (this.tx.state === "proceeding") {
      this.tx.respond(this.response(480, "Temporarily Unavailable"));
    }
    this.end();
  }

  private end(): void {
    if (this.fsm.ended) return;
    this.fsm.transition("ended");
    this.host.clock.clearTimeout(this.timer);
    this.tx.onCancel = undefined;
    this.tx.onNoAck = undefined;
    // The session's hangup resolves its run() (reason "hangup" unless it ended already).
    this.session?.hangup();
    this.media?.close();
    this.host.done(this);
  }
}
