import { describe, expect, it } from "vitest";
import { harness, isRequest, outgoingRequest, RecordingUser, responseText, sendTimes, PHONE } from "../../../test/support/sip/transaction-harness.js";

function start() {
  const hx = harness();
  const user = new RecordingUser();
  const tx = hx.layer.sendRequest(outgoingRequest("REGISTER"), PHONE, user);
  return { hx, user, tx, sent: tx.request };
}

describe("non-INVITE client transaction (RFC 3261 §17.1.2)", () => {
  it("Timer E doubles up to T2, Timer F times out at 64*T1 as 408", async () => {
    const { hx, user, tx } = start();
    expect(tx.state).toBe("trying");
    await hx.advance(32_000);
    expect(sendTimes(hx, isRequest("REGISTER"))).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(user.timeouts).toBe(1);
    expect(user.responses).toEqual([]);
    expect(tx.state).toBe("terminated");
    expect(hx.layer.stats()).toMatchObject({ clients: 0, timers: 0 });
  });

  it("after a provisional (Proceeding) E fires at T2; F still runs", async () => {
    const { hx, user, tx, sent } = start();
    await hx.advance(600);
    await hx.inject(responseText(sent, 100, "Trying"));
    expect(tx.state).toBe("proceeding");
    await hx.advance(10_000);
    // A at 500 (Trying), the pending E at 1500, then every T2.
    expect(sendTimes(hx, isRequest("REGISTER"))).toEqual([0, 500, 1500, 5500, 9500]);
    await hx.advance(21_400);
    expect(user.timeouts).toBe(1);
    expect(user.responses).toEqual([100]);
  });

  it("Completed keeps no request: nothing is sent from it any more, its method stays", async () => {
    const { hx, tx, sent } = start();
    expect(tx.request).toBe(sent);
    await hx.inject(responseText(sent, 200, "OK"));
    expect(tx.state).toBe("completed");
    expect(tx.request).not.toBe(sent);
    expect(tx.request.headers).toHaveLength(0);
    expect(tx.method).toBe("REGISTER");
    await hx.inject(responseText(sent, 200, "OK"));
    expect(sendTimes(hx, isRequest("REGISTER"))).toEqual([0]);
  });

  it("a final response: Completed, retransmissions absorbed, Timer K (T4) then Terminated", async () => {
    const { hx, user, tx, sent } = start();
    await hx.inject(responseText(sent, 200, "OK"));
    expect(tx.state).toBe("completed");
    await hx.inject(responseText(sent, 200, "OK"));
    expect(user.responses).toEqual([200]);
    await hx.advance(4_999);
    expect(tx.state).toBe("completed");
    await hx.advance(1);
    expect(tx.state).toBe("terminated");
    expect(user.terminated).toBe(1);
    expect(sendTimes(hx, isRequest("REGISTER"))).toEqual([0]);
    expect(hx.layer.stats()).toMatchObject({ clients: 0, timers: 0 });
  });

  it("a final in Proceeding stops E and F", async () => {
    const { hx, user, sent } = start();
    await hx.inject(responseText(sent, 100, "Trying"));
    await hx.inject(responseText(sent, 401, "Unauthorized"));
    await hx.advance(60_000);
    expect(sendTimes(hx, isRequest("REGISTER"))).toEqual([0]);
    expect(user.responses).toEqual([100, 401]);
    expect(user.timeouts).toBe(0);
  });

  it("a transport error is reported (as 503) and terminates", async () => {
    const hx = harness();
    const user = new RecordingUser();
    hx.gw.failSends = true;
    const tx = hx.layer.sendRequest(outgoingRequest("OPTIONS"), PHONE, user);
    await hx.flush();
    expect(user.errors).toHaveLength(1);
    expect(tx.state).toBe("terminated");
  });

  it("a response whose CSeq method differs matches nothing (§17.1.3)", async () => {
    const { hx, user, sent } = start();
    const strays: number[] = [];
    hx.layer.onStrayResponse((r) => strays.push(r.status));
    await hx.inject(responseText(sent, 200, "OK").replace("CSeq: 7 REGISTER", "CSeq: 7 OPTIONS"));
    expect(user.responses).toEqual([]);
    expect(strays).toEqual([200]);
  });
});
