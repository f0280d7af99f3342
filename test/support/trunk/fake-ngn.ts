/**
 * A stand-in for the NGN's P-CSCF (docs/ngn.md) for the trunk's unit tests, on the real transaction
 * layer: it records every request with its source, answers REGISTER, and answers a new INVITE
 * as the test chooses (at once, ringing only, reliable early media, or a script of its own).
 * `strict` adds the real P-CSCF's refusals, so a test sees the trunk's requests pass them.
 */
import type { Clock } from "../../../src/clock.js";
import { silentLogger } from "../../../src/log.js";
import type { Endpoint, SipRequest, SipResponse } from "../../../src/sip/message/types.js";
import { allVias, createRequest, createResponse, getHeader, newTag, setHeader, toAddr } from "../../../src/sip/message/index.js";
import type { Transport } from "../../../src/sip/transport.js";
import { sendRequest, type SentRequest } from "../sip/send-request.js";
import { TransactionLayer, type ServerTransaction } from "../../../src/sip/transaction/layer.js";

/** Our WAN address on the line (the lease's). */
export const WAN = { address: "198.18.4.2", port: 5060 };
export const NGN = { address: "198.18.5.1", port: 5060 };
export const DOMAIN = "ntt-east.ne.jp";
export const NGN_SDP = `v=0\r\no=- 100 1 IN IP4 198.18.5.9\r\ns=-\r\nc=IN IP4 198.18.5.9\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n`;
const NGN_CONTACT = `<sip:${NGN.address}:5060>`;

type Header = { name: string; value: string };

/**
 * How a new INVITE is answered (when no onInvite script is set):
 * - "answer": 180, then at once a 200 with SDP and a session timer the NGN refreshes;
 * - "ring": 180 only (a CANCEL gets its 487);
 * - "early-media": a reliable 183 with SDP (RFC 3262), then the 200 with SDP 30 ms later, as the NGN does;
 * - "ok": a bare 200 (a test that never dials out).
 */
export type NgnAnswer = "answer" | "ring" | "early-media" | "ok";

export interface FakeNgnOptions {
  /** Refuse what the real P-CSCF refuses: a REGISTER not to the domain, with rport or from a port
   * other than 5060; an INVITE with URI parameters or an SDP not PCMU on an even port with one c=; OPTIONS (405). */
  strict?: boolean;
  answer?: NgnAnswer;
}

/** What the NGN's inbound INVITE carries (docs/ngn.md "Inbound calls"); the defaults are the real line's. */
export interface NgnInvite {
  /** Our Contact on the line; default WAN. */
  to?: Endpoint;
  /** P-Asserted-Identity (RFC 3325); default the caller's SIP URI without a name. */
  identity?: string;
  /** Supported: timer, 100rel and Min-SE (RFC 4028, RFC 3262); false sends only Session-Expires. */
  supported?: boolean;
  /** Added after the others. */
  headers?: Header[];
}

export class FakeNgn {
  readonly tx: TransactionLayer;
  /** Every request received, in order. */
  readonly seen: SipRequest[] = [];
  /** The same, with where each came from. */
  readonly heard: { req: SipRequest; from: Endpoint }[] = [];
  /** Every response to the requests this NGN sent. */
  readonly responses: SipResponse[] = [];
  answer: NgnAnswer;
  /** Leave BYEs unanswered (a lost answer, or an NGN in trouble). */
  ignoreBye = false;
  /** Answer REGISTERs with this status instead of 200. */
  registerStatus = 200;
  /** A test's own answer to a new INVITE (no To tag); overrides `answer`. */
  onInvite?: (req: SipRequest, tx: ServerTransaction) => void;
  private readonly strict: boolean;

  constructor(
    transport: Transport,
    private readonly clock: Clock,
    o: FakeNgnOptions = {},
  ) {
    this.strict = o.strict ?? false;
    this.answer = o.answer ?? "answer";
    this.tx = new TransactionLayer({ transport, log: silentLogger(), clock });
    this.tx.onRequest((req, tx, from) => this.onRequest(req, tx, from));
  }

  /** The requests of one method, with their sources. */
  methods(m: string): { req: SipRequest; from: Endpoint }[] {
    return this.heard.filter((s) => s.req.method === m);
  }

  private onRequest(req: SipRequest, tx: ServerTransaction | undefined, from: Endpoint): void {
    this.seen.push(req);
    this.heard.push({ req, from });
    if (!tx) return;
    if (req.method === "REGISTER") return this.onRegister(req, tx, from);
    if (req.method === "OPTIONS" && this.strict) return tx.respond(createResponse(req, 405));
    if (req.method === "INVITE") return this.onInviteRequest(req, tx);
    if (req.method === "BYE" && this.ignoreBye) return;
    tx.respond(createResponse(req, 200));
  }

  private onRegister(req: SipRequest, tx: ServerTransaction, from: Endpoint): void {
    if (this.strict) {
      if (`${req.uri.scheme}:${req.uri.host}` !== `sip:${DOMAIN}` || req.uri.user) return tx.respond(createResponse(req, 400));
      if (allVias(req).some((v) => v.params.has("rport"))) return tx.respond(createResponse(req, 400));
      if (from.port !== 5060) return tx.respond(createResponse(req, 403));
    }
    if (this.registerStatus !== 200) return tx.respond(createResponse(req, this.registerStatus));
    const ok = createResponse(req, 200, "OK", { toTag: newTag() });
    // The granted expiry is the one asked for (RFC 3261 §10.3 step 7).
    setHeader(ok, "contact", `${getHeader(req, "contact")};expires=${getHeader(req, "expires") ?? "3600"}`);
    tx.respond(ok);
  }

  private onInviteRequest(req: SipRequest, tx: ServerTransaction): void {
    if (this.strict) {
      if (req.uri.params.size > 0) return tx.respond(createResponse(req, 400));
      const sdp = req.body.toString();
      if (!/m=audio \d*[02468] RTP\/AVP 0( 101)?\r\n/.test(sdp)) return tx.respond(createResponse(req, 488));
      if ((sdp.match(/^c=/gm) ?? []).length !== 1) return tx.respond(createResponse(req, 500));
    }
    if (toAddr(req).params.get("tag")) return tx.respond(createResponse(req, 200, "OK"));
    if (this.onInvite) return this.onInvite(req, tx);
    const tag = newTag();
    const ok = () => {
      const res = createResponse(req, 200, "OK", { toTag: tag, body: Buffer.from(NGN_SDP), contentType: "application/sdp" });
      setHeader(res, "contact", NGN_CONTACT);
      setHeader(res, "session-expires", "300;refresher=uas");
      setHeader(res, "require", "timer");
      tx.respond(res);
    };
    switch (this.answer) {
      case "ok":
        return tx.respond(createResponse(req, 200, "OK"));
      case "early-media": {
        const early = createResponse(req, 183, "Session Progress", { toTag: tag, body: Buffer.from(NGN_SDP) });
        setHeader(early, "require", "100rel");
        setHeader(early, "rseq", "1");
        setHeader(early, "contact", NGN_CONTACT);
        tx.respond(early);
        this.clock.setTimeout(ok, 30);
        return;
      }
      case "ring":
      case "answer":
        tx.respond(createResponse(req, 180, "Ringing", { toTag: tag }));
        tx.onCancel = () => tx.respond(createResponse(req, 487, "Request Terminated", { toTag: tag }));
        if (this.answer === "answer") ok();
    }
  }

  /** Send a request toward the trunk without waiting (see SentRequest). */
  send(req: SipRequest, to: Endpoint = WAN): SentRequest {
    return sendRequest(this.tx, req, to, (res) => this.responses.push(res));
  }

  /** Send a request toward the trunk and wait for its final response. */
  request(req: SipRequest, to: Endpoint = WAN): Promise<SipResponse> {
    return this.send(req, to).done;
  }

  /** An inbound call from 0398765432 to the line's number, as the NGN sends it. */
  inviteRequest(o: NgnInvite = {}): SipRequest {
    const to = o.to ?? WAN;
    const supported = o.supported ?? true;
    return createRequest({
      method: "INVITE",
      uri: `sip:0312345678@${to.address}:${to.port}`,
      from: `<sip:0398765432@${DOMAIN}>`,
      to: `<sip:0312345678@${DOMAIN}>`,
      contact: NGN_CONTACT,
      body: Buffer.from(NGN_SDP),
      headers: [
        ...(supported ? [{ name: "supported", value: "timer, 100rel" }] : []),
        { name: "session-expires", value: "300;refresher=uac" },
        ...(supported ? [{ name: "min-se", value: "300" }] : []),
        { name: "p-asserted-identity", value: o.identity ?? `<sip:0398765432@${DOMAIN}>` },
        ...(o.headers ?? []),
      ],
    });
  }

  /** Place an inbound call: the INVITE and its final response. */
  invite(o: NgnInvite = {}): { req: SipRequest; done: Promise<SipResponse> } {
    const req = this.inviteRequest(o);
    return { req, done: this.request(req, o.to ?? WAN) };
  }
}
