import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import type { SipRequest } from "../sip/message/types.js";
import { createResponse, getHeader, newTag, setHeader } from "../sip/message/index.js";
import { createMemoryNetwork, type MemoryNetwork } from "../sip/transport.js";
import { TransactionLayer, type ServerTransaction } from "../sip/transaction/layer.js";
import { MAX_RETRY_AFTER_MS, TrunkRegistration, type RegistrationState } from "./registration.js";

const WAN = { address: "198.18.4.2", port: 5060 };
const NGN = { address: "198.18.5.1", port: 5060 };
const TARGET = { server: NGN, domain: "ntt-east.ne.jp", number: "0312345678", localAddress: WAN.address, localPort: 5060 };

/** The registrar answers each REGISTER with the next scripted status (200 once the script runs out). */
class ScriptedRegistrar {
  readonly tx: TransactionLayer;
  readonly seen: SipRequest[] = [];
  script: { status: number; retryAfter?: number }[] = [];
  constructor(net: MemoryNetwork, clock: ManualClock) {
    this.tx = new TransactionLayer({ transport: net.transport(NGN), log: silentLogger(), clock });
    this.tx.onRequest((req, tx) => this.onRequest(req, tx));
  }
  private onRequest(req: SipRequest, tx: ServerTransaction | undefined): void {
    this.seen.push(req);
    const next = this.script.shift() ?? { status: 200 };
    const res = createResponse(req, next.status, undefined, { toTag: newTag() });
    if (next.status === 200) setHeader(res, "contact", `${getHeader(req, "contact")};expires=${getHeader(req, "expires")}`);
    if (next.retryAfter) setHeader(res, "retry-after", String(next.retryAfter));
    tx?.respond(res);
  }
}

describe("TrunkRegistration: refresh failures while the registration is still valid", () => {
  let clock: ManualClock;
  let net: MemoryNetwork;
  let gwTx: TransactionLayer;
  let ngn: ScriptedRegistrar;
  let reg: TrunkRegistration;
  let events: { state: RegistrationState; expiresAt?: number; lastError?: string }[];

  /** Advance fake time in steps, letting the in-memory network deliver between them. */
  async function advance(ms: number, step = 1000): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      await net.flush();
    }
  }

  beforeEach(async () => {
    clock = new ManualClock(1_000_000);
    net = createMemoryNetwork({ now: () => clock.now() });
    gwTx = new TransactionLayer({ transport: net.transport(WAN), log: silentLogger(), clock, via: { host: WAN.address, rport: false } });
    ngn = new ScriptedRegistrar(net, clock);
    reg = new TrunkRegistration({ tx: gwTx, clock, log: silentLogger(), expires: 3600, refreshRatio: 0.45 });
    events = [];
    reg.on("state", (state, d) => events.push({ state, ...d }));
    reg.start(TARGET);
    await net.flush();
    expect(reg.state).toBe("registered");
  });

  afterEach(() => {
    reg.dispose();
    gwTx.close();
    ngn.tx.close();
  });

  it("a 503 refresh keeps the line registered (last_error set) and retries with backoff until it works", async () => {
    const firstExpiry = reg.expiresAt!;
    ngn.script = [{ status: 503 }, { status: 503 }];
    await advance(1_620_000, 60_000);
    expect(ngn.seen).toHaveLength(2);
    expect(reg.state).toBe("registered");
    expect(reg.lastError).toBe("503 Service Unavailable");
    expect(reg.expiresAt).toBe(firstExpiry);
    expect(events.at(-1)).toMatchObject({ state: "registered", lastError: "503 Service Unavailable", expiresAt: firstExpiry });
    expect(events.some((e) => e.state === "failed")).toBe(false);
    await advance(5_000); // first retry after 5 s: 503 again
    expect(ngn.seen).toHaveLength(3);
    expect(reg.state).toBe("registered");
    await advance(10_000); // second retry after 10 s: 200
    expect(ngn.seen).toHaveLength(4);
    expect(reg.state).toBe("registered");
    expect(reg.lastError).toBeUndefined();
    expect(reg.expiresAt).toBeGreaterThan(firstExpiry);
  });

  it("goes to failed only once the registration has actually expired", async () => {
    const expiry = reg.expiresAt!;
    ngn.script = Array.from({ length: 100 }, () => ({ status: 500 }));
    await advance(expiry - clock.now() - 1_000, 10_000);
    expect(reg.state).toBe("registered");
    expect(reg.lastError).toBe("500 Server Internal Error");
    // Retries came before the expiry, not after it.
    expect(ngn.seen.length).toBeGreaterThan(3);
    await advance(2_000);
    expect(reg.state).toBe("failed");
    expect(reg.expiresAt).toBeUndefined();
    expect(events.find((e) => e.state === "failed")).toMatchObject({ lastError: "registration expired (500 Server Internal Error)" });
  });

  it("caps Retry-After, and while still registered retries before the expiry whatever it says", async () => {
    const expiry = reg.expiresAt!;
    ngn.script = [{ status: 503, retryAfter: 86_400 }];
    await advance(1_620_000, 60_000);
    expect(ngn.seen).toHaveLength(2);
    // 1980 s of validity left: the retry comes before the expiry (minus a transaction's time), not in a day.
    await advance(expiry - clock.now() - 30_000, 10_000);
    expect(ngn.seen).toHaveLength(3);
    expect(reg.state).toBe("registered");
    expect(reg.lastError).toBeUndefined();
  });

  it("caps Retry-After at MAX_RETRY_AFTER_MS once nothing is registered", async () => {
    reg.dispose();
    const fresh = new TrunkRegistration({ tx: gwTx, clock, log: silentLogger(), expires: 3600, refreshRatio: 0.45 });
    ngn.script = [{ status: 503, retryAfter: 86_400 }];
    const before = ngn.seen.length;
    fresh.start(TARGET);
    await net.flush();
    expect(fresh.state).toBe("failed");
    await advance(MAX_RETRY_AFTER_MS - 1_000, 60_000);
    expect(ngn.seen.length).toBe(before + 1);
    await advance(1_000);
    expect(ngn.seen.length).toBe(before + 2);
    expect(fresh.state).toBe("registered");
    fresh.dispose();
  });

  it("emits every successful refresh with its new expiresAt, though the state name stays registered", async () => {
    const n = events.length;
    await advance(1_620_000, 60_000);
    expect(ngn.seen).toHaveLength(2);
    expect(events.length).toBe(n + 1);
    expect(events.at(-1)).toMatchObject({ state: "registered", expiresAt: clock.now() + 3_600_000 });
  });

  it("dispose() clears its timers: nothing is sent and nothing is emitted afterwards", async () => {
    const n = events.length;
    reg.dispose();
    await advance(4_000_000, 100_000);
    expect(ngn.seen).toHaveLength(1);
    expect(events.length).toBe(n);
    expect(clock.pending()).toBe(0);
  });
});
