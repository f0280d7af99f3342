/**
 * A scripted SIP phone over the in-memory network, for the PBX's unit tests: it registers
 * with digest, places calls answering challenges, and answers or rejects incoming calls
 * as told. Built on the real transaction layer, so the PBX is tested against real SIP.
 */
import type { Clock } from "../../../src/clock.js";
import { silentLogger } from "../../../src/log.js";
import type { Endpoint, SipRequest, SipResponse } from "../../../src/sip/message/types.js";
import { createRequest, createResponse, getHeader, newTag, setHeader, toAddr } from "../../../src/sip/message/index.js";
import { digestAuthorization } from "../../../src/sip/digest.js";
import { Dialog } from "../../../src/sip/dialog/dialog.js";
import type { MemoryNetwork } from "../../../src/sip/transport.js";
import { TransactionLayer, type ServerTransaction } from "../../../src/sip/transaction/layer.js";

export type IncomingBehaviour = { answer: true; ringMs?: number; sdp?: string } | { reject: number } | { ringOnly: true };

export const PHONE_SDP = (addr: string, port: number) =>
  `v=0\r\no=- 1 1 IN IP4 ${addr}\r\ns=-\r\nc=IN IP4 ${addr}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n`;

export class TestPhone {
  readonly tx: TransactionLayer;
  readonly received: SipRequest[] = [];
  readonly responses: SipResponse[] = [];
  behaviour: IncomingBehaviour = { answer: true };
  /** The dialog of the last answered call, either direction. */
  dialog?: Dialog;
  incoming?: { req: SipRequest; tx: ServerTransaction; tag: string };
  private cseq = 1;

  constructor(
    net: MemoryNetwork,
    readonly local: Endpoint,
    readonly number: string,
    private readonly password: string,
    private readonly gateway: Endpoint,
    private readonly clock: Clock,
  ) {
    this.tx = new TransactionLayer({ transport: net.transport(local), log: silentLogger(), clock });
    this.tx.onRequest((req, tx) => this.onRequest(req, tx));
  }

  private get contact(): string {
    return `<sip:${this.number}@${this.local.address}:${this.local.port}>`;
  }

  /** Send a request and resolve with its final response, answering one digest challenge. */
  request(req: SipRequest, auth = true): Promise<SipResponse> {
    return new Promise((resolve, reject) => {
      const send = (r: SipRequest, challenged: boolean) => {
        if (r.method === "INVITE") this.lastInvite = r;
        return this.tx.sendRequest(r, this.gateway, {
          onResponse: (res) => {
            this.responses.push(res);
            if (res.status < 200) return;
            if ((res.status === 401 || res.status === 407) && auth && !challenged) {
              const challenge = getHeader(res, res.status === 401 ? "www-authenticate" : "proxy-authenticate")!;
              const again = structuredCloneRequest(r);
              again.headers = again.headers.filter((h) => h.name !== "via");
              setHeader(again, "cseq", `${++this.cseq} ${r.method}`);
              setHeader(again, res.status === 401 ? "authorization" : "proxy-authorization", digestAuthorization({ challenge, method: r.method, uri: `sip:${r.uri.user ? r.uri.user + "@" : ""}${r.uri.host}`, username: this.number, password: this.password, nc: 1 }));
              return send(again, true);
            }
            resolve(res);
          },
          onTimeout: () => reject(new Error("timeout")),
          onTransportError: (_t, err) => reject(err),
        });
      };
      send(req, false);
    });
  }

  register(expires = 600): Promise<SipResponse> {
    const req = createRequest({
      method: "REGISTER",
      uri: `sip:${this.gateway.address}`,
      from: `<sip:${this.number}@${this.gateway.address}>`,
      to: `<sip:${this.number}@${this.gateway.address}>`,
      cseq: ++this.cseq,
      contact: this.contact,
      headers: [{ name: "expires", value: String(expires) }],
    });
    return this.request(req);
  }

  /** Place a call; resolves with the final response (and ACKs a 2xx, keeping the dialog). */
  async call(dialled: string, sdp = PHONE_SDP(this.local.address, 40000)): Promise<{ res: SipResponse; invite: SipRequest }> {
    const invite = createRequest({
      method: "INVITE",
      uri: `sip:${dialled}@${this.gateway.address}`,
      from: `"Phone ${this.number}" <sip:${this.number}@${this.gateway.address}>`,
      to: `<sip:${dialled}@${this.gateway.address}>`,
      cseq: ++this.cseq,
      contact: this.contact,
      body: Buffer.from(sdp),
      contentType: "application/sdp",
    });
    const res = await this.request(invite);
    return { res, invite: this.lastInvite! };
  }
  private lastInvite?: SipRequest;

  /** ACK a 2xx to our INVITE and keep its dialog. */
  ack(res: SipResponse): void {
    this.dialog = Dialog.asUac(this.lastInvite!, res);
    const ack = this.dialog.createRequest("ACK", { contact: this.contact, seq: Number(getHeader(res, "cseq")!.split(" ")[0]) });
    this.tx.sendAck(ack, this.gateway);
  }

  bye(headers: { name: string; value: string }[] = []): Promise<SipResponse> {
    const bye = this.dialog!.createRequest("BYE", { contact: this.contact, headers });
    return this.request(bye, false);
  }

  reinvite(sdp: string): Promise<SipResponse> {
    const req = this.dialog!.createRequest("INVITE", { contact: this.contact, body: Buffer.from(sdp) });
    return this.request(req, false);
  }

  /** The phone's own handling of a request (a test may wrap it). */
  onRequest(req: SipRequest, tx: ServerTransaction | undefined): void {
    this.received.push(req);
    if (!tx) return; // ACK
    if (req.method === "BYE") return tx.respond(createResponse(req, 200));
    if (req.method === "INVITE" && toAddr(req).params.get("tag")) {
      const ok = createResponse(req, 200, "OK", { body: req.body.length ? req.body : undefined });
      setHeader(ok, "contact", this.contact);
      return tx.respond(ok);
    }
    if (req.method !== "INVITE") return tx.respond(createResponse(req, 200));
    const tag = newTag();
    this.incoming = { req, tx, tag };
    const b = this.behaviour;
    if ("reject" in b) return tx.respond(createResponse(req, b.reject, undefined, { toTag: tag }));
    tx.respond(createResponse(req, 180, "Ringing", { toTag: tag }));
    tx.onCancel = (cancel) => {
      this.received.push(cancel); // the layer answered the CANCEL itself; record it for the test
      tx.respond(createResponse(req, 487, undefined, { toTag: tag }));
    };
    if ("ringOnly" in b) return;
    const answer = () => {
      const ok = createResponse(req, 200, "OK", { toTag: tag, body: Buffer.from(b.sdp ?? PHONE_SDP(this.local.address, 42000)), contentType: "application/sdp" });
      setHeader(ok, "contact", this.contact);
      this.dialog = Dialog.asUas(req, tag, "confirmed");
      tx.respond(ok);
    };
    if (b.ringMs) this.clock.setTimeout(answer, b.ringMs);
    else answer();
  }
}

function structuredCloneRequest(r: SipRequest): SipRequest {
  return { ...r, uri: r.uri, headers: r.headers.map((h) => ({ ...h })), body: r.body };
}
