/**
 * A leg a call places toward one place it rings (a B leg): its INVITE, the UAC dialog it
 * starts (RFC 3261 §8.1.1, §12.1.2: a fresh Call-ID and From tag per leg, Max-Forwards one
 * less than the caller's, our Contact on the leg's side, and one Allow) and the client
 * transaction that carries it, built whole before anything can answer.
 */
import type { Endpoint, NameAddr, SipRequest, SipResponse } from "../sip/message/types.js";
import { formatNameAddr, newCallId, newTag } from "../sip/message/index.js";
import { Dialog } from "../sip/dialog/dialog.js";
import type { ClientTransaction } from "../sip/transaction/layer.js";
import type { BLeg, CallControl, CallParty, CallTarget, SipSide } from "./call-types.js";

/** What a call leg accepts in its dialogs when no side names its own list (in-dialog REFER/NOTIFY are relayed). */
const CALL_ALLOW = "INVITE, ACK, CANCEL, BYE, UPDATE, INFO, OPTIONS, NOTIFY, REFER";

/** The Allow for a B-leg INVITE on `side`: the side's own list, else the PBX's (its LAN side's), else the call's. */
export function allowFor(side: SipSide, lan: SipSide): string {
  const own = (s: SipSide) => (s as { allow?: string }).allow;
  return own(side) ?? own(lan) ?? CALL_ALLOW;
}

interface BLegInvite {
  invite: SipRequest;
  dialog: Dialog;
  /** The user part of our From (and Contact) toward this leg's peer. */
  fromUser: string | undefined;
}

function bLegInvite(target: CallTarget, side: SipSide, lan: SipSide, caller: CallParty, offer: Buffer, maxForwards: number): BLegInvite {
  const callId = newCallId(side.host);
  const fromTag = newTag();
  const from: NameAddr = target.from ?? {
    displayName: caller.name,
    uri: { scheme: "sip", user: caller.number, host: side.host, params: new Map(), headers: new Map() },
    params: new Map(),
  };
  const headers = [
    { name: "max-forwards", value: String(maxForwards) },
    { name: "from", value: formatNameAddr({ ...from, params: new Map([...from.params, ["tag", fromTag]]) }) },
    { name: "to", value: formatNameAddr(target.to) },
    { name: "call-id", value: callId },
    { name: "cseq", value: "1 INVITE" },
    // Toward the trunk, From (and so Contact) carry the line's number, not the extension's.
    { name: "contact", value: `<sip:${from.uri.user ?? caller.number}@${side.host}:${side.port}>` },
    // One Allow (RFC 3261 §20.5: the methods we take from this peer): the side's own. An Allow
    // among the target's headers is dropped, so there is never a second one.
    { name: "allow", value: allowFor(side, lan) },
    ...(target.headers ?? []).filter((h) => h.name.toLowerCase() !== "allow"),
  ];
  if (offer.length > 0) headers.push({ name: "content-type", value: "application/sdp" });
  const invite: SipRequest = { kind: "request", method: "INVITE", uri: target.uri, version: "SIP/2.0", headers, body: offer };
  const dialog = new Dialog({
    callId,
    localTag: fromTag,
    remoteTag: "",
    localUri: { ...from, params: new Map() },
    remoteUri: target.to,
    localSeq: 1,
    remoteSeq: undefined,
    remoteTarget: target.uri,
    routeSet: [],
    state: "early",
  });
  return { invite, dialog, fromUser: from.uri.user };
}

/** Where a B leg's INVITE transaction reports: its responses, or its failure without one. */
export interface BLegUser {
  onResponse(leg: BLeg, res: SipResponse): void;
  /** No final response: a timeout (408) or a transport error (503), RFC 3261 §8.1.3.1. */
  onFailure(leg: BLeg, status: number, reason: string): void;
}

/** What a call says about the place it rings. */
export interface BLegPlan {
  target: CallTarget;
  side: SipSide;
  /** The PBX's LAN side, whose Allow list applies when `side` names none. */
  lan: SipSide;
  caller: CallParty;
  /** The caller's offer shaped for `side` (empty for a late offer). */
  offer: Buffer;
  maxForwards: number;
}

export class CalleeLeg implements BLeg {
  readonly side = "b" as const;
  readonly target: CallTarget;
  readonly net: SipSide;
  readonly invite: SipRequest;
  readonly dialog: Dialog;
  readonly contactUser: string | undefined;
  readonly tx: ClientTransaction;
  peer: Endpoint;
  lastSdp: string | undefined;
  final?: { status: number; reason: string };
  cancelled = false;

  /** Builds the INVITE and its dialog, and sends it through `plan.side`. */
  constructor(
    readonly control: CallControl,
    plan: BLegPlan,
    user: BLegUser,
  ) {
    const { invite, dialog, fromUser } = bLegInvite(plan.target, plan.side, plan.lan, plan.caller, plan.offer, plan.maxForwards);
    this.target = plan.target;
    this.net = plan.side;
    this.invite = invite;
    this.dialog = dialog;
    this.contactUser = fromUser;
    this.peer = plan.target.destination;
    this.lastSdp = plan.offer.length > 0 ? plan.offer.toString() : undefined;
    this.tx = plan.side.tx.sendRequest(invite, plan.target.destination, {
      onResponse: (res) => user.onResponse(this, res),
      onTimeout: () => user.onFailure(this, 408, "Request Timeout"),
      onTransportError: () => user.onFailure(this, 503, "Service Unavailable"),
    });
  }
}
