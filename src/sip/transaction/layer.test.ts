import { describe, expect, it } from "vitest";
import type { SipRequest, SipResponse } from "../message/types.js";
import { createResponse, parseMessage } from "../message/index.js";
import { createMemoryNetwork } from "../transport.js";
import { ManualClock } from "../../clock.js";
import { silentLogger } from "../../log.js";
import { TransactionLayer, type ServerTransaction } from "./layer.js";
import { GW, harness, isRequest, isStatus, outgoingRequest, PHONE, RecordingUser, requestText, responseText, sentByGw } from "../../../test/support/sip/transaction-harness.js";

const h = (m: SipRequest | SipResponse, n: string) => m.headers.filter((x) => x.name === n).map((x) => x.value);

describe("TransactionLayer: CANCEL (RFC 3261 §9.2)", () => {
  it("a matching CANCEL gets 200, the INVITE's onCancel runs, the TU answers 487", async () => {
    const hx = harness();
    const seen: SipRequest[] = [];
    const cancels: SipRequest[] = [];
    let inv: ServerTransaction | undefined;
    hx.layer.onRequest((req, tx) => {
      seen.push(req);
      if (req.method === "INVITE") {
        inv = tx;
        tx!.respond(createResponse(req, 180, "Ringing", { toTag: "gw1" }));
        tx!.onCancel = (c) => {
          cancels.push(c);
          tx!.respond(createResponse(req, 487, "Request Terminated", { toTag: "gw1" }));
        };
      }
    });
    await hx.inject(requestText({ method: "INVITE" }));
    await hx.inject(requestText({ method: "CANCEL" }));
    expect(seen.map((r) => r.method)).toEqual(["INVITE"]); // CANCEL never reaches onRequest
    expect(cancels).toHaveLength(1);
    const ok = sentByGw(hx, (m) => m.kind === "response" && m.status === 200)[0] as SipResponse;
    expect(h(ok, "cseq")).toEqual(["1 CANCEL"]);
    expect(h(ok, "to")[0]).toMatch(/tag=gw1/); // same To tag as the INVITE's responses
    expect(inv!.state).toBe("completed");
    expect(sentByGw(hx, isStatus(487))).toHaveLength(1);
    // A retransmitted CANCEL: 200 again, onCancel not again.
    await hx.inject(requestText({ method: "CANCEL" }));
    expect(cancels).toHaveLength(1);
    expect(sentByGw(hx, isStatus(200))).toHaveLength(2);
  });

  it("without an onCancel hook the layer answers the INVITE 487 itself", async () => {
    const hx = harness();
    hx.layer.onRequest(() => {});
    await hx.inject(requestText({ method: "INVITE" }));
    await hx.inject(requestText({ method: "CANCEL" }));
    expect(sentByGw(hx, isStatus(200))).toHaveLength(1);
    const r487 = sentByGw(hx, isStatus(487));
    expect(r487).toHaveLength(1);
    expect(h(r487[0]!, "cseq")).toEqual(["1 INVITE"]);
  });

  it("a CANCEL matching nothing gets 481; after a final, CANCEL gets 200 and changes nothing", async () => {
    const hx = harness();
    let cancelled = 0;
    hx.layer.onRequest((req, tx) => {
      if (req.method !== "INVITE") return;
      tx!.onCancel = () => cancelled++;
      tx!.respond(createResponse(req, 200, "OK", { toTag: "gw1" }));
    });
    await hx.inject(requestText({ method: "CANCEL", branch: "z9hG4bKnone" }));
    expect(sentByGw(hx, isStatus(481))).toHaveLength(1);
    await hx.inject(requestText({ method: "INVITE" }));
    await hx.inject(requestText({ method: "CANCEL" }));
    expect(cancelled).toBe(0);
    expect(sentByGw(hx, isStatus(200))).toHaveLength(2);
  });

  it("cancel(): queued until a provisional, then sent with the INVITE's branch, CSeq number and Route", async () => {
    const hx = harness();
    const user = new RecordingUser();
    const tx = hx.layer.sendRequest(outgoingRequest("INVITE"), PHONE, user);
    hx.layer.cancel(tx, [{ name: "reason", value: 'SIP;cause=487;text="gone"' }]);
    await hx.flush();
    expect(sentByGw(hx, isRequest("CANCEL"))).toHaveLength(0);
    await hx.inject(responseText(tx.request, 180));
    const cancels = sentByGw(hx, isRequest("CANCEL")) as SipRequest[];
    expect(cancels).toHaveLength(1);
    const c = cancels[0]!;
    expect(h(c, "via")).toEqual([h(tx.request, "via")[0]]);
    expect(h(c, "cseq")).toEqual(["7 CANCEL"]);
    expect(h(c, "route")).toEqual(h(tx.request, "route"));
    expect(h(c, "to")).toEqual(h(tx.request, "to"));
    expect(h(c, "reason")).toHaveLength(1);
    expect(c.uri).toEqual(tx.request.uri);
    // The CANCEL is its own non-INVITE transaction: 200 CANCEL, then 487 INVITE → ACK.
    await hx.inject(responseText(c, 200, "OK"));
    await hx.inject(responseText(tx.request, 487, "Request Terminated"));
    expect(user.responses).toEqual([180, 487]);
    expect(sentByGw(hx, isRequest("ACK"))).toHaveLength(1);
    // CANCEL retransmits like any non-INVITE until answered; it was answered, so none.
    await hx.advance(5000);
    expect(sentByGw(hx, isRequest("CANCEL"))).toHaveLength(1);
  });
});

describe("TransactionLayer: matching and sending", () => {
  it("RFC 2543 matching: retransmissions without the magic cookie are absorbed, the ACK matches by To tag", async () => {
    const hx = harness();
    const seen: string[] = [];
    let inv: ServerTransaction | undefined;
    hx.layer.onRequest((req, tx) => {
      seen.push(req.method);
      if (req.method === "INVITE") {
        inv = tx;
        tx!.respond(createResponse(req, 486, "Busy Here", { toTag: "gw1" }));
      }
    });
    const via = "SIP/2.0/UDP 198.18.0.2:5062;branch=old2543";
    await hx.inject(requestText({ method: "INVITE", via }));
    await hx.inject(requestText({ method: "INVITE", via }));
    expect(seen).toEqual(["INVITE"]);
    expect(sentByGw(hx, isStatus(486))).toHaveLength(2);
    await hx.inject(requestText({ method: "ACK", via, toTag: "other" })); // not our tag: no match
    expect(inv!.state).toBe("completed");
    await hx.inject(requestText({ method: "ACK", via, toTag: "gw1" }));
    expect(inv!.state).toBe("confirmed");
    expect(seen).toEqual(["INVITE", "ACK"]);
  });

  it("same branch, different sent-by: two transactions (§17.2.3)", async () => {
    const hx = harness();
    let n = 0;
    hx.layer.onRequest(() => n++);
    await hx.inject(requestText({ method: "OPTIONS", via: "SIP/2.0/UDP 198.18.0.2:5062;branch=z9hG4bKsame" }));
    await hx.inject(requestText({ method: "OPTIONS", via: "SIP/2.0/UDP 198.18.0.3:5062;branch=z9hG4bKsame" }));
    expect(n).toBe(2);
  });

  it("sendRequest adds a Via (sent-by local or configured, new z9hG4bK branch) unless one with a z9hG4bK branch exists", () => {
    const hx = harness({ via: { host: "198.18.0.50", rport: true } });
    const u = new RecordingUser();
    const a = hx.layer.sendRequest(outgoingRequest("OPTIONS"), PHONE, u);
    expect(h(a.request, "via")[0]).toMatch(/^SIP\/2\.0\/UDP 198\.18\.0\.50:5060;rport;branch=z9hG4bK\S+$/);
    const b = hx.layer.sendRequest(outgoingRequest("OPTIONS"), PHONE, u, { via: { host: GW.address, port: 5080, rport: false } });
    expect(h(b.request, "via")[0]).toMatch(/^SIP\/2\.0\/UDP 198\.18\.0\.1:5080;branch=z9hG4bK/);
    expect(a.branch).not.toBe(b.branch);
    const own = outgoingRequest("OPTIONS", ["Via: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKmine"]);
    const c = hx.layer.sendRequest(own, PHONE, u);
    expect(c.branch).toBe("z9hG4bKmine");
    expect(h(c.request, "via")).toHaveLength(1);
    expect(() => hx.layer.sendRequest(outgoingRequest("ACK"), PHONE, u)).toThrow(/sendAck/);
  });

  it("sendAck sends statelessly with a fresh branch", async () => {
    const hx = harness();
    hx.layer.sendAck(outgoingRequest("ACK"), PHONE);
    const acks = sentByGw(hx, isRequest("ACK"));
    expect(acks).toHaveLength(1);
    expect(h(acks[0]!, "via")[0]).toMatch(/branch=z9hG4bK/);
    expect(hx.layer.stats()).toMatchObject({ clients: 0, timers: 0 });
  });

  it("a request missing Call-ID is answered 400 statelessly, never reaching the TU", async () => {
    const hx = harness();
    let n = 0;
    hx.layer.onRequest(() => n++);
    await hx.inject(requestText({ method: "OPTIONS" }).replace(/Call-ID: [^\r]+\r\n/, ""));
    expect(n).toBe(0);
    expect(hx.gw.sent.map((d) => parseMessage(d.data)).filter(isStatus(400))).toHaveLength(1);
  });

  it("received/rport are stamped on the top Via of received requests (§18.2.1, RFC 3581)", async () => {
    const hx = harness();
    const reqs: SipRequest[] = [];
    hx.layer.onRequest((r) => reqs.push(r));
    await hx.inject(requestText({ method: "OPTIONS", via: "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKa;rport" }));
    await hx.inject(requestText({ method: "OPTIONS", via: "SIP/2.0/UDP 198.18.0.2:5062;branch=z9hG4bKb" }));
    await hx.inject(requestText({ method: "OPTIONS", via: "SIP/2.0/UDP phone.invalid;branch=z9hG4bKc" }));
    expect(h(reqs[0]!, "via")[0]).toBe("SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKa;rport=5062;received=198.18.0.2");
    expect(h(reqs[1]!, "via")[0]).toBe("SIP/2.0/UDP 198.18.0.2:5062;branch=z9hG4bKb");
    expect(h(reqs[2]!, "via")[0]).toBe("SIP/2.0/UDP phone.invalid;branch=z9hG4bKc;received=198.18.0.2");
  });

  it("two layers in memory: REGISTER → 200 end to end, then everything cleans up", async () => {
    const clock = new ManualClock(0);
    const net = createMemoryNetwork({ now: () => clock.now() });
    const ua = new TransactionLayer({ transport: net.transport(PHONE), log: silentLogger(), clock });
    const gw = new TransactionLayer({ transport: net.transport(GW), log: silentLogger(), clock });
    gw.onRequest((req, tx) => tx!.respond(createResponse(req, 200, "OK", { toTag: "gw1" })));
    const user = new RecordingUser();
    for (let i = 0; i < 10; i++) ua.sendRequest(outgoingRequest("REGISTER"), GW, user);
    await net.flush();
    expect(user.responses).toEqual(Array(10).fill(200));
    expect(gw.stats().servers).toBe(10);
    clock.advance(32_000);
    expect(ua.stats()).toMatchObject({ clients: 0, timers: 0 });
    expect(gw.stats()).toMatchObject({ servers: 0, timers: 0 });
    ua.close();
    gw.close();
  });
});
