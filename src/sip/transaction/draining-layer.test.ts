import { describe, expect, it } from "vitest";
import { ManualClock } from "../../clock.js";
import { silentLogger } from "../../log.js";
import { createRequest, createResponse } from "../message/index.js";
import { createMemoryNetwork } from "../transport.js";
import { DrainingLayer } from "./draining-layer.js";
import { TransactionLayer } from "./layer.js";

const A = { address: "198.18.0.1", port: 5060 };
const B = { address: "198.18.0.2", port: 5060 };

function setup(answer: boolean) {
  const clock = new ManualClock(1_000_000);
  const net = createMemoryNetwork({ now: () => clock.now() });
  const layer = new DrainingLayer({ transport: net.transport(A), log: silentLogger(), clock });
  const peer = new TransactionLayer({ transport: net.transport(B), log: silentLogger(), clock });
  peer.onRequest((req, tx) => {
    if (answer) tx?.respond(createResponse(req, 200, "OK"));
  });
  const bye = createRequest({ method: "BYE", uri: `sip:x@${B.address}`, from: "<sip:a@h>;tag=1", to: "<sip:b@h>;tag=2", cseq: 2 });
  const finals: number[] = [];
  layer.sendRequest(bye, B, { onResponse: (r) => r.status >= 200 && finals.push(r.status), onTimeout: () => finals.push(408), onTransportError: () => undefined });
  return { clock, net, layer, peer, finals };
}

describe("DrainingLayer", () => {
  it("counts a request until its final response, and drained() resolves then", async () => {
    const { clock, net, layer, peer, finals } = setup(true);
    expect(layer.pending).toBe(1);
    let drained = false;
    const p = layer.drained(clock, 2_000).then(() => (drained = true));
    await net.flush();
    await p;
    expect(drained).toBe(true);
    expect(finals).toEqual([200]);
    expect(layer.pending).toBe(0);
    layer.close();
    peer.close();
  });

  it("gives up after the bounded wait, leaving no waiter and no timer behind", async () => {
    const { clock, net, layer, peer } = setup(false);
    let drained = false;
    const p = layer.drained(clock, 2_000).then(() => (drained = true));
    await net.flush();
    clock.advance(1_999);
    await Promise.resolve();
    expect(drained).toBe(false);
    clock.advance(1);
    await p;
    expect(drained).toBe(true);
    expect(layer.pending).toBe(1);
    expect(layer.waiting).toBe(0);
    layer.close();
    peer.close();
  });

  it("keeps counting a rehomed transaction, settles it once, and its old user hears nothing", async () => {
    const { clock, net, layer, peer, finals } = setup(false);
    const [tx] = layer.clientTransactions();
    const heard: number[] = [];
    tx!.rehome({ onResponse: (r) => heard.push(r.status), onTimeout: () => heard.push(408), onTransportError: () => undefined });
    expect(layer.pending).toBe(1);
    const p = layer.drained(clock, 60_000);
    await net.flush();
    clock.advance(32_000); // Timer F: the non-INVITE transaction times out (§17.1.2.2)
    await p;
    expect(heard).toEqual([408]);
    expect(finals).toEqual([]);
    expect(layer.pending).toBe(0);
    layer.close();
    peer.close();
  });

  it("counts an INVITE once however many 2xx retransmissions reach it (RFC 6026 Accepted)", async () => {
    const clock = new ManualClock(1_000_000);
    const net = createMemoryNetwork({ now: () => clock.now() });
    const layer = new DrainingLayer({ transport: net.transport(A), log: silentLogger(), clock });
    const peer = new TransactionLayer({ transport: net.transport(B), log: silentLogger(), clock });
    peer.onRequest((req, tx) => tx?.respond(createResponse(req, 200, "OK", { toTag: "peer" })));
    const invite = createRequest({ method: "INVITE", uri: `sip:x@${B.address}`, from: "<sip:a@h>;tag=1", to: "<sip:b@h>", cseq: 1 });
    let oks = 0;
    layer.sendRequest(invite, B, { onResponse: (r) => r.status === 200 && oks++, onTimeout: () => undefined, onTransportError: () => undefined });
    // A second request still open keeps the count honest: it must stay at 1 after the INVITE's 2xxs.
    const bye = createRequest({ method: "BYE", uri: `sip:y@198.18.0.9`, from: "<sip:a@h>;tag=3", to: "<sip:b@h>;tag=4", cseq: 2 });
    layer.sendRequest(bye, { address: "198.18.0.9", port: 5060 }, { onResponse: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined });
    for (let i = 0; i < 4; i++) {
      await net.flush();
      clock.advance(500 * 2 ** i); // the peer's 2xx retransmissions (§13.3.1.4), no ACK sent
    }
    await net.flush();
    expect(oks).toBeGreaterThan(1);
    expect(layer.pending).toBe(1);
    layer.close();
    peer.close();
  });
});
