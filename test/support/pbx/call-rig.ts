/**
 * A bench for one Call at a time, for call.ts's unit tests: two sides of the gateway (a LAN
 * and a trunk-like WAN, each its own transaction layer) on the in-memory network and a
 * ManualClock, a host that files dialogs and routes in-dialog requests as the PBX does, and
 * scripted peers built on the real transaction layer. No PBX, registrar or digest in the way:
 * each test says which side the caller is on, what the callee answers and how.
 */
import { ManualClock } from "../../../src/clock.js";
import { silentLogger } from "../../../src/log.js";
import type { CallEvent } from "../../../src/events.js";
import type { Endpoint, SipRequest, SipResponse } from "../../../src/sip/message/types.js";
import { createRequest, createResponse, getHeader, parseUri, setHeader, tagOf } from "../../../src/sip/message/index.js";
import { Dialog, dialogKey } from "../../../src/sip/dialog/dialog.js";
import { createMemoryNetwork, type MemoryNetwork } from "../../../src/sip/transport.js";
import { TransactionLayer, type ServerTransaction } from "../../../src/sip/transaction/layer.js";
import type { CallMedia } from "../../../src/pbx/call-media.js";
import { Call, type CallHost, type CallTarget, type Leg, type SipSide } from "../../../src/pbx/call.js";

export const GW_LAN: Endpoint = { address: "198.18.0.1", port: 5060 };
export const GW_WAN: Endpoint = { address: "198.18.4.2", port: 5060 };

export const sdpOf = (addr: string, port: number, extra = "") =>
  `v=0\r\no=- 7 1 IN IP4 ${addr}\r\ns=-\r\nc=IN IP4 ${addr}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n${extra}`;

/** Media that only points `c=` at the gateway, so a test can see a body went through the call's rewrite. */
export function markingMedia(): CallMedia & { seen: { from: string; sdp: string }[] } {
  const seen: { from: string; sdp: string }[] = [];
  return {
    seen,
    fromSide: (from, sdp, advertise) => {
      seen.push({ from, sdp });
      return sdp.replace(/^c=IN IP4 \S+/m, `c=IN IP4 ${advertise}`);
    },
    release: () => undefined,
  };
}

type Handler = (req: SipRequest, tx: ServerTransaction | undefined) => boolean | void;

/** A SIP endpoint on the network: records what it gets, answers as its handler says (else 200). */
export class Peer {
  readonly tx: TransactionLayer;
  readonly received: SipRequest[] = [];
  readonly responses: SipResponse[] = [];
  /** Return true when the request was handled; otherwise non-INVITEs get 200. */
  handler?: Handler;

  constructor(
    net: MemoryNetwork,
    clock: ManualClock,
    readonly at: Endpoint,
    readonly user: string,
  ) {
    this.tx = new TransactionLayer({ transport: net.transport(at), log: silentLogger(), clock });
    this.tx.onRequest((req, tx) => {
      this.received.push(req);
      if (this.handler?.(req, tx)) return;
      if (tx && req.method !== "INVITE") tx.respond(createResponse(req, 200, "OK"));
    });
  }

  get contact(): string {
    return `<sip:${this.user}@${this.at.address}:${this.at.port}>`;
  }

  /** Send a request; every response lands in `responses`, the final one also in the returned box. */
  send(req: SipRequest, to: Endpoint): { final?: SipResponse } {
    const box: { final?: SipResponse } = {};
    this.tx.sendRequest(req, to, {
      onResponse: (res) => {
        this.responses.push(res);
        if (res.status >= 200) box.final ??= res;
      },
      onTimeout: () => undefined,
      onTransportError: () => undefined,
    });
    return box;
  }

  /** A new INVITE from this peer to `dialled` at the gateway `gw`. */
  invite(dialled: string, gw: Endpoint, sdp: string | undefined): SipRequest {
    return createRequest({
      method: "INVITE",
      uri: `sip:${dialled}@${gw.address}`,
      from: `<sip:${this.user}@${gw.address}>`,
      to: `<sip:${dialled}@${gw.address}>`,
      contact: this.contact,
      cseq: 1,
      body: sdp === undefined ? undefined : Buffer.from(sdp),
      headers: sdp === undefined ? [] : [{ name: "content-type", value: "application/sdp" }],
    });
  }

  /** The requests of one method this peer received. */
  got(method: string): SipRequest[] {
    return this.received.filter((r) => r.method === method);
  }
}

export interface RigOptions {
  lan?: Partial<SipSide>;
  wan?: Partial<SipSide>;
  media?: CallMedia;
}

export class CallRig {
  readonly clock = new ManualClock(1_000_000);
  readonly net: MemoryNetwork;
  readonly lan: SipSide;
  readonly wan: SipSide;
  readonly media: CallMedia;
  readonly events: CallEvent[] = [];
  readonly calls: Call[] = [];
  /** Where the next incoming INVITE rings. */
  targets: CallTarget[] = [];
  private readonly dialogs = new Map<string, { leg: Leg; call: Call }>();
  private readonly host: CallHost;
  private readonly layers: TransactionLayer[] = [];
  private readonly peers: Peer[] = [];

  constructor(opts: RigOptions = {}) {
    this.net = createMemoryNetwork({ now: () => this.clock.now() });
    const log = silentLogger();
    const lanTx = new TransactionLayer({ transport: this.net.transport(GW_LAN), log, clock: this.clock });
    const wanTx = new TransactionLayer({ transport: this.net.transport(GW_WAN), log, clock: this.clock });
    this.layers.push(lanTx, wanTx);
    this.lan = { name: "lan", tx: lanTx, host: GW_LAN.address, port: GW_LAN.port, ...opts.lan };
    this.wan = { name: "trunk", tx: wanTx, host: GW_WAN.address, port: GW_WAN.port, ...opts.wan };
    this.media = opts.media ?? markingMedia();
    this.host = {
      lan: this.lan,
      clock: this.clock,
      log,
      ringTimeoutMs: 60_000,
      fileDialog: (key, leg, call) => this.dialogs.set(key, { leg, call }),
      dropDialog: (key) => this.dialogs.delete(key),
      callEvent: (ev) => this.events.push(ev),
      ended: () => undefined,
    };
    lanTx.onRequest((req, tx, from) => this.dispatch(req, tx, from, this.lan));
    wanTx.onRequest((req, tx, from) => this.dispatch(req, tx, from, this.wan));
  }

  /** As the PBX: ACK and in-dialog requests to the leg owning the dialog, a new INVITE to a new Call. */
  private dispatch(req: SipRequest, tx: ServerTransaction | undefined, from: Endpoint, side: SipSide): void {
    const tag = tagOf(getHeader(req, "to"));
    const filed = tag ? this.dialogs.get(dialogKey(getHeader(req, "call-id") ?? "", tag)) : undefined;
    if (req.method === "ACK") return void filed?.call.onAck(filed.leg, req);
    if (!tx) return;
    if (tag) return filed ? filed.call.onRequest(filed.leg, req, tx) : tx.respond(createResponse(req, 481));
    if (req.method !== "INVITE") return tx.respond(createResponse(req, 405));
    const call = new Call(this.host, tx, req, from, side, { number: "801" }, req.uri.user ?? "", "outbound", this.media);
    this.calls.push(call);
    call.ring(this.targets);
  }

  peer(at: Endpoint, user: string): Peer {
    const p = new Peer(this.net, this.clock, at, user);
    this.peers.push(p);
    return p;
  }

  /** A target ringing `peer` through `side`. */
  target(peer: Peer, side: SipSide = this.lan, extra: Partial<CallTarget> = {}): CallTarget {
    const uri = parseUri(`sip:${peer.user}@${peer.at.address}:${peer.at.port}`);
    return { side, uri, destination: peer.at, to: { uri, params: new Map() }, label: peer.user, ...extra };
  }

  /** Let the network and due timers run: `ms` of fake time in 10 ms steps, flushing deliveries after each. */
  async settle(ms = 0): Promise<void> {
    await this.net.flush();
    for (let t = 0; t < ms; t += 10) {
      this.clock.advance(10);
      await this.net.flush();
    }
  }

  close(): void {
    for (const c of this.calls) c.hangup("test over");
    for (const t of [...this.layers, ...this.peers.map((p) => p.tx)]) t.close();
  }
}

/** A UAS answer helper for scripted callees: a response to `req` with the callee's tag and Contact. */
export function reply(req: SipRequest, status: number, tag: string, contact: string, body?: string, extra: { name: string; value: string }[] = []): SipResponse {
  const res = createResponse(req, status, undefined, { toTag: tag, body: body === undefined ? undefined : Buffer.from(body) });
  if (status > 100 && status < 300) setHeader(res, "contact", contact);
  for (const h of extra) setHeader(res, h.name, h.value);
  return res;
}

/** The caller's view of its early or confirmed dialog with the gateway. */
export function callerDialog(invite: SipRequest, res: SipResponse): Dialog {
  return Dialog.asUac(invite, res);
}
