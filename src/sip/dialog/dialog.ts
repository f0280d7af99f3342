/**
 * A SIP dialog (RFC 3261 §12): the peer-to-peer relationship one leg of a call keeps.
 * It knows its identifiers (Call-ID, local and remote tag), both CSeq spaces, the remote
 * target and the route set, and builds in-dialog requests from them (§12.2.1.1). Where to
 * actually send datagrams (a NAT'ed phone's source address) is the owner's business.
 */
import type { NameAddr, SipRequest, SipResponse, SipUri } from "../message/types.js";
import { callId, contacts, cseq, formatNameAddr, formatUri, fromAddr, getHeader, getHeaders, parseNameAddr, tagOf, toAddr } from "../message/index.js";

export type DialogState = "early" | "confirmed" | "terminated";

export interface DialogInit {
  callId: string;
  localTag: string;
  remoteTag: string;
  localUri: NameAddr;
  remoteUri: NameAddr;
  localSeq: number;
  remoteSeq: number | undefined;
  remoteTarget: SipUri;
  /** Route header values in the order requests must carry them. */
  routeSet: string[];
  state: DialogState;
}

export class Dialog {
  readonly callId: string;
  readonly localTag: string;
  readonly localUri: NameAddr;
  readonly remoteUri: NameAddr;
  localSeq: number;
  remoteSeq: number | undefined;
  // What the peer's messages teach (§12.1.2, §12.2): learnt here, by this class's own methods only.
  private rTag: string;
  private rTarget: SipUri;
  private routes: string[];
  private st: DialogState;

  constructor(init: DialogInit) {
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.rTag = init.remoteTag;
    this.localUri = init.localUri;
    this.remoteUri = init.remoteUri;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.rTarget = init.remoteTarget;
    this.routes = init.routeSet;
    this.st = init.state;
  }

  /** The peer's tag; "" on a UAC's dialog until a response carrying a To tag came. */
  get remoteTag(): string {
    return this.rTag;
  }

  get remoteTarget(): SipUri {
    return this.rTarget;
  }

  /** Route header values in the order requests carry them. */
  get routeSet(): readonly string[] {
    return this.routes;
  }

  get state(): DialogState {
    return this.st;
  }

  /** §12.1.1: the UAS side, from the request and the To tag we chose. */
  static asUas(req: SipRequest, localTag: string, state: DialogState = "early"): Dialog {
    const from = fromAddr(req);
    const to = toAddr(req);
    const contact = contacts(req)[0];
    return new Dialog({
      callId: callId(req),
      localTag,
      remoteTag: from.params.get("tag") ?? "",
      localUri: withoutTag(to),
      remoteUri: withoutTag(from),
      localSeq: 0,
      remoteSeq: cseq(req).seq,
      remoteTarget: contact && contact !== "*" ? contact.uri : from.uri,
      routeSet: getHeaders(req, "record-route"),
      state,
    });
  }

  /** §12.1.2: the UAC side, from our request and a response carrying a To tag. */
  static asUac(req: SipRequest, res: SipResponse): Dialog {
    const from = fromAddr(req);
    const to = toAddr(req);
    const d = new Dialog({
      callId: callId(req),
      localTag: from.params.get("tag") ?? "",
      remoteTag: "",
      localUri: withoutTag(from),
      remoteUri: withoutTag(to),
      localSeq: cseq(req).seq,
      remoteSeq: undefined,
      remoteTarget: to.uri,
      routeSet: [],
      state: "early",
    });
    d.learnFromResponse(res);
    return d;
  }

  /**
   * §12.1.2: a response to our dialog-creating request (1xx other than 100, or 2xx)
   * carrying a To tag makes this UAC dialog with its sender: the remote tag from To, the
   * route set from Record-Route in reverse order, the remote target from Contact (the To
   * URI when it has none), and the state early for 1xx or confirmed for 2xx. A confirmed
   * dialog never goes back to early. Returns false, learning nothing, without a To tag.
   */
  learnFromResponse(res: SipResponse): boolean {
    const tag = tagOf(getHeader(res, "to"));
    if (!tag) return false;
    const contact = contacts(res)[0];
    this.rTag = tag;
    this.rTarget = contact && contact !== "*" ? contact.uri : this.remoteUri.uri;
    this.routes = getHeaders(res, "record-route").reverse();
    if (res.status >= 200 || this.st !== "confirmed") this.st = res.status >= 200 ? "confirmed" : "early";
    return true;
  }

  /** §12.1.1: the UAS's dialog is confirmed by the 2xx it sends to the dialog-creating request. */
  confirm(): void {
    this.st = "confirmed";
  }

  /** Key under which the owner files this dialog: Call-ID + local tag (remote tag may change in early forking). */
  get key(): string {
    return dialogKey(this.callId, this.localTag);
  }

  /**
   * §12.2.2: check an in-dialog request's CSeq. Returns false when it is out of order
   * (lower than the last), in which case the UAS answers 500. ACK and CANCEL carry the
   * INVITE's number and are not checked.
   */
  acceptRemoteSeq(req: SipRequest): boolean {
    if (req.method === "ACK" || req.method === "CANCEL") return true;
    const seq = cseq(req).seq;
    if (this.remoteSeq !== undefined && seq <= this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /** Target refresh (§12.2): a re-INVITE/UPDATE or its 2xx may move the remote target. */
  refreshTarget(msg: SipRequest | SipResponse): void {
    const c = contacts(msg)[0];
    if (c && c !== "*") this.rTarget = c.uri;
  }

  /**
   * §12.2.1.1: build an in-dialog request. The Request-URI is the remote target and the
   * route set goes into Route (loose routing; a strict first hop is used as the
   * Request-URI with the target appended, as the RFC says). Via is added by the transaction layer.
   */
  createRequest(method: string, opts: { contact: string; body?: Buffer; contentType?: string; headers?: { name: string; value: string }[]; seq?: number }): SipRequest {
    let seq: number;
    if (opts.seq !== undefined) seq = opts.seq;
    else if (method === "ACK" || method === "CANCEL") seq = this.localSeq;
    else seq = ++this.localSeq;
    let uri = this.rTarget;
    let routes: readonly string[] = this.routes;
    if (routes.length > 0) {
      const first = parseNameAddr(routes[0]);
      if (!first.uri.params.has("lr")) {
        uri = first.uri;
        routes = [...routes.slice(1), `<${formatUri(this.rTarget)}>`];
      }
    }
    const headers = [
      ...routes.map((value) => ({ name: "route", value })),
      { name: "max-forwards", value: "70" },
      { name: "from", value: formatNameAddr({ ...this.localUri, params: new Map([...this.localUri.params, ["tag", this.localTag]]) }) },
      { name: "to", value: formatNameAddr({ ...this.remoteUri, params: this.rTag ? new Map([...this.remoteUri.params, ["tag", this.rTag]]) : this.remoteUri.params }) },
      { name: "call-id", value: this.callId },
      { name: "cseq", value: `${seq} ${method}` },
    ];
    if (method !== "ACK" && method !== "CANCEL") headers.push({ name: "contact", value: opts.contact });
    if (opts.headers) headers.push(...opts.headers);
    const body = opts.body ?? Buffer.alloc(0);
    if (body.length > 0) headers.push({ name: "content-type", value: opts.contentType ?? "application/sdp" });
    return { kind: "request", method, uri, version: "SIP/2.0", headers, body };
  }
}

export function dialogKey(callIdValue: string, localTag: string): string {
  return `${callIdValue}\u0000${localTag}`;
}

function withoutTag(na: NameAddr): NameAddr {
  const params = new Map(na.params);
  params.delete("tag");
  return { ...na, params };
}
