/**
 * The vocabulary of a call through the B2BUA: the sides of the gateway a leg can live on
 * (LAN, trunk), the places a call rings, and the legs themselves.
 */
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import type { CallEvent } from "../events.js";
import type { Endpoint, Header, NameAddr, SipRequest, SipResponse, SipUri } from "../sip/message/types.js";
import type { Dialog } from "../sip/dialog/dialog.js";
import type { ClientTransaction, ServerTransaction, TransactionLayer } from "../sip/transaction/layer.js";
import type { CallSide } from "./call-media.js";
import type { Call } from "./call.js";

/**
 * What the sides of a call (the trunk's session timer, its PRACK wait) and the media may
 * ask of the call a leg belongs to: never the Call itself, whose requests and responses
 * only the PBX routes.
 */
export interface CallControl {
  readonly id: string;
  /** End the call from our side: BYE what is answered, CANCEL what rings, the caller hears 480. */
  hangup(reason: string): void;
  /** A side (not on hold) sent no RTP or RTCP for the media timeout; undefined: both. */
  mediaTimedOut(side?: CallSide): void;
}

/**
 * One side of the gateway a leg lives on: the LAN (phones) or the trunk (NGN). It names the
 * transaction layer to send through, our host:port there (Contact, From, SDP), and the
 * side's peculiarities (the NGN wants session timers, PCMU only, PRACK…).
 */
export interface SipSide {
  readonly name: string;
  readonly tx: TransactionLayer;
  readonly host: string;
  readonly port: number;
  /** Shape SDP we send to this side (e.g. strip codecs the NGN refuses); null = unacceptable (488). */
  shapeSdp?(sdp: string): string | null;
  /** Headers to add to the 200 we send for an INVITE received on this side (session timer echo). */
  answerHeaders?(invite: SipRequest): { name: string; value: string }[];
  /**
   * An in-dialog request on this side the gateway answers itself instead of relaying
   * (session refreshes, PRACK). Return true when handled.
   */
  absorb?(leg: Leg, req: SipRequest, tx: ServerTransaction, lastSdp: string | undefined): boolean;
  /** A provisional we are about to send to the caller on this side (make it reliable, RFC 3262). */
  provisionalOut?(leg: Leg, invite: SipRequest, res: SipResponse, tx: ServerTransaction): void;
  /**
   * Our 2xx to this side's INVITE is ready. RFC 3262 §3: it must not go while a reliable
   * provisional carrying SDP is un-PRACKed, so the side may hold it and call `send` once
   * the PRACK came (never, if the call ends first). Returns true when it holds it.
   */
  holdFinal?(leg: Leg, send: () => void): boolean;
  /** A provisional on a leg we placed on this side (send PRACK for a reliable one, RFC 3262). */
  onProvisional?(leg: Leg, res: SipResponse): void;
  /** The dialog of a leg on this side is up (start session-timer refreshes). */
  onConfirmed?(leg: Leg, invite: SipRequest, res: SipResponse | undefined): void;
  onEnded?(leg: Leg): void;
  /** Offers from the other leg are answered locally, not relayed here (the NGN: avoid re-INVITEs it may refuse). */
  readonly keepsOffers?: boolean;
  /**
   * Whether an in-dialog request of this method from the other leg may be sent to this
   * side; the rest are answered on the other leg (the NGN: never OPTIONS, MESSAGE, INFO…).
   * Absent: every method is relayed.
   */
  relays?(method: string): boolean;
  /**
   * REFER (RFC 3515, a transfer) may cross a call only when both its legs' sides allow it.
   * Absent: refused. The trunk never does: a REFER from the line would make a phone dial
   * whatever Refer-To names through the line (toll fraud).
   */
  readonly transfers?: boolean;
  /** The Allow header for requests and 2xx we send on this side (one Allow, its own list), when the side has one. */
  readonly allow?: string;
  /**
   * The side runs its own RFC 4028 session timer per leg: the other leg's Session-Expires,
   * Min-SE, Require and Supported never cross to it, so the other leg cannot move its
   * refresher role, and a 2xx we send it for a re-INVITE/UPDATE is reported through
   * `answeredRefresh`.
   */
  readonly ownsSessionTimer?: boolean;
  /** A 2xx we send on this side for a re-INVITE or UPDATE (local or relayed): RFC 4028 §10 refresh. */
  answeredRefresh?(leg: Leg, req: SipRequest, res: SipResponse): void;
  /**
   * The callee on this side ends the media in this process (the answering machine): it
   * talks RTP with the other side's peer directly. SDP to it and, once it answered, SDP in
   * both directions passes without the relay's rewrite, and the call's relay ports are
   * freed when it answers (nothing would ever flow through them).
   */
  readonly terminatesMedia?: boolean;
  /**
   * The RFC 3326 Reason on the CANCELs to the devices still ringing when a leg on this side
   * answers; "Call completed elsewhere" (cause 200) when absent. The answering machine's
   * answer is no completed call for the household: the phones must list it as missed.
   */
  readonly answeredReason?: Header;
}

/** One place the call rings: a registered device of an extension, or the trunk. */
export interface CallTarget {
  /** The side the leg is placed on; the host's default side (LAN) when absent. */
  side?: SipSide;
  uri: SipUri;
  destination: Endpoint;
  to: NameAddr;
  /** The extension this target belongs to (for events); undefined for the trunk. */
  extension?: string;
  label: string;
  /** Extra headers for the B-leg INVITE (trunk: Supported, P-Preferred-Identity, …). */
  headers?: { name: string; value: string }[];
  /** From for the B-leg; the caller's identity at the gateway by default. */
  from?: NameAddr;
  /** The answering machine: its answer makes the call's events say `answered_by: "voicemail"`. */
  voicemail?: boolean;
}

/** Why a call could not ring, as the caller will hear it (and how the event records it). */
export interface CallFailure {
  status: number;
  reason: string;
  /** For the log: why. */
  why?: string;
  /** The call event; by default 486/600/603 are "rejected" and the rest "missed". */
  event?: "missed" | "rejected";
}

/**
 * The answering machine as a place an inbound line call rings: a fork that answers itself
 * (after the ringing delay, or at once), beside the phones' forks.
 */
export interface AnsweringPort {
  /**
   * Its fork for a call to `called`, answering `now` or after its delay, its RTP on
   * `mediaAddress` (the address the caller's side reaches: the trunk's); undefined when it
   * does not answer that number. `callId`: the call's id (its events' `call_id`), which the
   * message's event repeats so the two can be matched.
   */
  target(called: string, mediaAddress: string, when: "now" | "delayed", callId: string): CallTarget | undefined;
}

export interface CallParty {
  number: string;
  name?: string;
}

/** What a call needs from the PBX that owns it. */
export interface CallHost {
  /** The LAN side: where targets without a side of their own ring. */
  readonly lan: SipSide;
  readonly clock: Clock;
  readonly log: Logger;
  readonly ringTimeoutMs: number;
  /** File a leg's dialog, so the leg's in-dialog requests and ACKs reach `call`. */
  fileDialog(key: string, leg: Leg, call: Call): void;
  dropDialog(key: string): void;
  callEvent(ev: CallEvent): void;
  ended(call: Call): void;
}

/** One dialog of a call, as its side and the PBX see it. */
export interface Leg {
  readonly control: CallControl;
  readonly side: CallSide;
  readonly dialog: Dialog;
  /** Where requests to this leg's peer go (a NAT'ed phone's source address). */
  peer: Endpoint;
  /** The side of the gateway this leg is on. */
  readonly net: SipSide;
  /** The user part of our Contact toward this leg's peer, when not the default party's number. */
  readonly contactUser?: string;
  /** The last SDP we sent to this leg's peer (to answer refreshes locally). */
  lastSdp?: string;
}

/** A leg the call placed toward one place it rings (a UAC dialog, RFC 3261 §12.1.2). */
export interface BLeg extends Leg {
  readonly side: "b";
  readonly target: CallTarget;
  readonly invite: SipRequest;
  readonly tx: ClientTransaction;
  /** Its INVITE's final response (a timeout or transport error counts as 408 / 503): it rings no more. */
  final?: { status: number; reason: string };
  /** We CANCELled its INVITE (another device answered, or the call ended first). */
  cancelled: boolean;
}
