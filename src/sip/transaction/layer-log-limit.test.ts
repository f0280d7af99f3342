import { describe, expect, it } from "vitest";
import { pino } from "pino";
import type { Transport } from "../transport.js";
import { harness, requestText } from "../../../test/support/sip/transaction-harness.js";

/** A flood of messages that each make the layer log must not become a flood of log lines. */
describe("TransactionLayer: per-message log lines are rate-limited", () => {
  const capture = () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "debug" }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    return { lines, log };
  };

  it("a TU handler throwing on each of 50 requests: at most 5 lines a second, then one carrying the count left out", async () => {
    const { lines, log } = capture();
    const hx = harness({ log });
    hx.layer.onRequest(() => {
      throw new Error("boom");
    });
    for (let i = 0; i < 50; i++) await hx.inject(requestText({ method: "OPTIONS", branch: `z9hG4bKflood${i}` }));
    const threw = () => lines.filter((l) => l.msg === "transaction user handler threw");
    expect(threw()).toHaveLength(5);
    await hx.advance(1000);
    await hx.inject(requestText({ method: "OPTIONS", branch: "z9hG4bKlast" }));
    expect(threw()).toHaveLength(6);
    expect(threw().at(-1)?.suppressed).toBe(45);
  });

  it("the layer failing on each of 50 messages (here: a transport that throws): at most 5 lines a second", async () => {
    const { lines, log } = capture();
    const hx0 = harness();
    const throwing: Transport = {
      local: hx0.gw.local,
      send: () => {
        throw new Error("send threw");
      },
      sendRaw: () => {
        throw new Error("send threw");
      },
      onMessage: (h) => hx0.gw.onMessage(h),
      close: () => hx0.gw.close(),
    };
    const hx = harness({ log, transport: throwing });
    hx.layer.onRequest(() => undefined);
    for (let i = 0; i < 50; i++) {
      hx0.gw.inject(requestText({ method: "INVITE", branch: `z9hG4bKinv${i}` }), hx0.phone.local);
      await hx0.flush();
    }
    const failed = lines.filter((l) => l.msg === "transaction layer failed on a message");
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThanOrEqual(5);
  });
});
