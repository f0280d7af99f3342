/**
 * Enumeration by timing: a wrong password for an existing extension and any password for a
 * missing one must cost the gateway the same work, or a guesser times the 403s and learns
 * which extensions exist. Work is counted, not timed (a timed test flakes on a shared CPU):
 * every hash the REGISTER's handling computes goes through node:crypto's createHash/createHmac.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const hashes = vi.hoisted(() => ({ count: 0 }));
vi.mock("node:crypto", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:crypto")>();
  return {
    ...real,
    createHash: (...a: Parameters<typeof real.createHash>) => (hashes.count++, real.createHash(...a)),
    createHmac: (...a: Parameters<typeof real.createHmac>) => (hashes.count++, real.createHmac(...a)),
  };
});

const { ManualClock } = await import("../clock.js");
const { silentLogger } = await import("../log.js");
const { DigestServer, digestAuthorization } = await import("../sip/digest.js");
const { getHeader } = await import("../sip/message/index.js");
const { BindingsStore } = await import("./bindings-store.js");
const { Lockout } = await import("./lockout.js");
const { Registrar } = await import("./registrar.js");
import type { Header, SipRequest, SipResponse } from "../sip/message/types.js";

const REALM = "hikari-gw";

function register(user: string, cseq: number, authorization?: string): SipRequest {
  const headers: Header[] = [
    { name: "via", value: `SIP/2.0/UDP 198.18.0.10:5060;branch=z9hG4bK${cseq}x${user}` },
    { name: "max-forwards", value: "70" },
    { name: "from", value: `<sip:${user}@${REALM}>;tag=f${user}` },
    { name: "to", value: `<sip:${user}@${REALM}>` },
    { name: "call-id", value: `reg-${user}` },
    { name: "cseq", value: `${cseq} REGISTER` },
    { name: "contact", value: `<sip:${user}@198.18.0.10>` },
  ];
  if (authorization) headers.push({ name: "authorization", value: authorization });
  return { kind: "request", method: "REGISTER", uri: { scheme: "sip", host: REALM, params: new Map(), headers: new Map() }, version: "SIP/2.0", headers, body: Buffer.alloc(0) };
}

describe("enumeration: the work behind a 403", () => {
  let dir: string;
  let registrar: InstanceType<typeof Registrar>;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "hikari-enum-"));
    const clock = new ManualClock(Date.UTC(2025, 0, 1));
    const digest = new DigestServer({ realm: REALM, nonceTtlMs: 300_000, clock });
    const lockout = new Lockout({ clock, log: silentLogger(), maxFailures: 1000, windowMs: 60_000, lockMs: 300_000 });
    registrar = new Registrar({
      extensions: [{ number: "801", password: "pw-801" }],
      realm: REALM,
      store: new BindingsStore({ stateDir: dir, clock, log: silentLogger() }),
      clock,
      log: silentLogger(),
      digest,
      lockout,
    });
  });
  afterEach(async () => {
    await registrar.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Hashes computed while the gateway handles one REGISTER with a wrong password for `user`. */
  const workFor = (user: string, cseq: number): { status: number; hashes: number } => {
    const first: SipResponse = registrar.handleRegister(register(user, cseq), { address: "198.18.0.10", port: 5060 });
    const challenge = getHeader(first, "www-authenticate")!;
    const creds = digestAuthorization({ challenge, method: "REGISTER", uri: `sip:${REALM}`, username: user, password: "wrong", nc: 1 });
    hashes.count = 0;
    const res = registrar.handleRegister(register(user, cseq + 1, creds), { address: "198.18.0.10", port: 5060 });
    return { status: res.status, hashes: hashes.count };
  };

  it("an existing extension and a missing one cost the same hashing", () => {
    // The first answer for an extension computes and caches its HA1: once per extension and
    // process, not per guess. A guesser's many tries all meet the warm cache.
    workFor("801", 1);
    const existing = workFor("801", 3);
    const missing = workFor("899", 10);
    expect(existing.status).toBe(403);
    expect(missing.status).toBe(403);
    expect(existing.hashes).toBeGreaterThan(0);
    expect(missing.hashes).toBe(existing.hashes);
  });
});
