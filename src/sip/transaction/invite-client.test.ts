import { describe, expect, it } from "vitest";
import type { SipRequest } from "../message/types.js";
import { harness, isRequest, outgoingRequest, RecordingUser, responseText, sendTimes, sentByGw, PHONE } from "../../../test/support/sip/transaction-harness.js";
import type { InviteClientTransaction } from "./invite-client.js";

function start(opts = {}) {
  const hx = harness(opts);
  const user = new RecordingUser();
  const tx = hx.layer.sendRequest(outgoingRequest("INVITE"), PHONE, user) as InviteClientTransaction;
  return { hx, user, tx, sent: tx.request };
}

describe("INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §7.2)", () => {
  it("Timer A retransmits at T1 doubling without cap, Timer B times out at 64*T1 as 408", async () => {
    const { hx, user, tx } = start();
    expect(tx.state).toBe("calling");
    await hx.advance(31_999);
    expect(user.timeouts).toBe(0);
    await hx.advance(1);
    // sends at 0 then A at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s
    expect(sendTimes(hx, isRequest("INVITE"))).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(user.timeouts).toBe(1);
    expect(tx.state).toBe("terminated");
    expect(user.terminated).toBe(1);
    expect(hx.layer.stats()).toMatchObject({ clients: 0, timers: 0 });
  });

  it("a provisional stops retransmission and Timer B (Proceeding)", async () => {
    const { hx, user, tx, sent } = start();
    await hx.advance(600);
    await hx.inject(responseText(sent, 180));
    expect(tx.state).toBe("proceeding");
    expect(user.responses).toEqual([180]);
    await hx.advance(60_000);
    expect(sendTimes(hx, isRequest("INVITE"))).toEqual([0, 500]);
    expect(user.timeouts).toBe(0);
    expect(tx.state).toBe("proceeding");
  });

  it("3xx-6xx: builds and sends the ACK itself, re-ACKs retransmissions, Timer D then Terminated", async () => {
    const { hx, user, tx, sent } = start();
    await hx.inject(responseText(sent, 180));
    await hx.inject(responseText(sent, 486, "Busy Here", "callee7"));
    expect(tx.state).toBe("completed");
    expect(user.responses).toEqual([180, 486]);
    const acks = sentByGw(hx, isRequest("ACK")) as SipRequest[];
    expect(acks).toHaveLength(1);
    const ack = acks[0]!;
    const h = (m: SipRequest, n: string) => m.headers.filter((x) => x.name === n).map((x) => x.value);
    // §17.1.1.3: same Request-URI, top Via (same branch), From, Call-ID, Route; To from the response.
    expect(ack.uri).toEqual(sent.uri);
    expect(h(ack, "via")).toEqual([h(sent, "via")[0]]);
    expect(h(ack, "route")).toEqual(h(sent, "route"));
    expect(h(ack, "from")).toEqual(h(sent, "from"));
    expect(h(ack, "to")[0]).toMatch(/;tag=callee7$/);
    expect(h(ack, "cseq")).toEqual(["7 ACK"]);
    // A retransmitted final: another ACK, not passed to the TU.
    await hx.advance(1000);
    await hx.inject(responseText(sent, 486, "Busy Here", "callee7"));
    expect(sentByGw(hx, isRequest("ACK"))).toHaveLength(2);
    expect(user.responses).toEqual([180, 486]);
    await hx.advance(30_999);
    expect(tx.state).toBe("completed");
    await hx.advance(1);
    expect(tx.state).toBe("terminated"); // D = 32 s after the first 486
    expect(hx.layer.stats().clients).toBe(0);
  });

  it("a final in Calling also stops A and B and is ACKed", async () => {
    const { hx, user, tx, sent } = start();
    await hx.inject(responseText(sent, 603, "Decline"));
    expect(tx.state).toBe("completed");
    expect(user.responses).toEqual([603]);
    await hx.advance(31_000);
    expect(sendTimes(hx, isRequest("INVITE"))).toEqual([0]);
    expect(user.timeouts).toBe(0);
  });

  it("2xx: Accepted (RFC 6026), no ACK by the transaction, 2xx retransmissions to the TU, Timer M, then stray", async () => {
    const strays: number[] = [];
    const { hx, user, tx, sent } = start();
    hx.layer.onStrayResponse((res) => strays.push(res.status));
    await hx.inject(responseText(sent, 200, "OK"));
    expect(tx.state).toBe("accepted");
    await hx.advance(500);
    await hx.inject(responseText(sent, 200, "OK"));
    expect(user.responses).toEqual([200, 200]);
    expect(sentByGw(hx, isRequest("ACK"))).toHaveLength(0);
    // 1xx and non-2xx in Accepted are dropped.
    await hx.inject(responseText(sent, 180));
    expect(user.responses).toEqual([200, 200]);
    await hx.advance(31_500);
    expect(tx.state).toBe("terminated");
    await hx.inject(responseText(sent, 200, "OK"));
    expect(strays).toEqual([200]); // the UA must re-ACK it (§13.2.2.4)
    expect(sendTimes(hx, isRequest("INVITE"))).toEqual([0]);
  });

  it("Completed re-ACKs with the ACK it built, without its request; Accepted passes every 2xx (another fork's too) to the user it was rehomed to, without its request", async () => {
    const { hx, tx, sent } = start();
    await hx.inject(responseText(sent, 486, "Busy Here", "callee7"));
    expect(tx.request.headers).toHaveLength(0);
    await hx.inject(responseText(sent, 486, "Busy Here", "callee7"));
    const acks = hx.gw.sent.filter((d) => d.data.toString().startsWith("ACK "));
    expect(acks).toHaveLength(2);
    expect(acks[1]!.data.equals(acks[0]!.data)).toBe(true);

    const b = start();
    await b.hx.inject(responseText(b.sent, 200, "OK", "fork1"));
    expect(b.tx.state).toBe("accepted");
    expect(b.tx.request.headers).toHaveLength(0);
    expect(b.tx.method).toBe("INVITE");
    const later = new RecordingUser();
    b.tx.rehome(later);
    await b.hx.inject(responseText(b.sent, 200, "OK", "fork1"));
    await b.hx.inject(responseText(b.sent, 200, "OK", "fork2"));
    expect(later.responses).toEqual([200, 200]);
    expect(b.user.responses).toEqual([200]);
  });

  it("a transport error in Calling is reported (as 503) and terminates", async () => {
    const hx = harness();
    hx.gw.failSends = true;
    const user = new RecordingUser();
    const tx = hx.layer.sendRequest(outgoingRequest("INVITE"), PHONE, user);
    await hx.flush();
    expect(user.errors).toHaveLength(1);
    expect(tx.state).toBe("terminated");
    expect(hx.layer.stats()).toMatchObject({ clients: 0, timers: 0 });
  });

  it("a throwing TU is logged, the transaction carries on", async () => {
    const { hx, tx, sent } = start();
    tx.rehome({
      onResponse: () => {
        throw new Error("boom");
      },
      onTimeout: () => undefined,
      onTransportError: () => undefined,
    });
    await hx.inject(responseText(sent, 486));
    expect(tx.state).toBe("completed");
    expect(sentByGw(hx, isRequest("ACK"))).toHaveLength(1);
  });
});
