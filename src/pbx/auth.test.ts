import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { DigestServer, digestAuthorization } from "../sip/digest.js";
import { getHeader, parseAuthParams } from "../sip/message/index.js";
import type { Header, SipRequest, SipResponse } from "../sip/message/types.js";
import { ExtensionAuth } from "./auth.js";
import { Lockout } from "./lockout.js";

const PHONE = { address: "198.18.0.10", port: 5060 };

function invite(extra: Header[] = [], toTag = false): SipRequest {
  return {
    kind: "request",
    method: "INVITE",
    uri: { scheme: "sip", user: "0312345678", host: "hikari-gw", params: new Map(), headers: new Map() },
    version: "SIP/2.0",
    headers: [
      { name: "via", value: "SIP/2.0/UDP 198.18.0.10:5060;branch=z9hG4bKinv1;rport" },
      { name: "from", value: "<sip:801@hikari-gw>;tag=ft" },
      { name: "to", value: `<sip:0312345678@hikari-gw>${toTag ? ";tag=tt" : ""}` },
      { name: "call-id", value: "inv-1" },
      { name: "cseq", value: "1 INVITE" },
      ...extra,
    ],
    body: Buffer.alloc(0),
  };
}

function setup() {
  const clock = new ManualClock(1_000_000);
  const digest = new DigestServer({ realm: "hikari-gw", clock });
  const lockout = new Lockout({ clock, log: silentLogger(), maxFailures: 3 });
  const auth = new ExtensionAuth({ extensions: [{ number: "801", password: "pw-801" }], digest, lockout, log: silentLogger(), clock });
  const respond = (res: SipResponse, password = "pw-801", user = "801", nc = 1, method = "INVITE") =>
    digestAuthorization({ challenge: getHeader(res, "proxy-authenticate")!, method, uri: "sip:0312345678@hikari-gw", username: user, password, nc });
  return { clock, auth, respond };
}

describe("ExtensionAuth.authenticateRequest", () => {
  it("challenges an INVITE with 407 and Proxy-Authenticate, then accepts the right answer", () => {
    const { auth, respond } = setup();
    const first = auth.authenticateRequest(invite(), { proxy: true, source: PHONE });
    expect(first.ok).toBe(false);
    if (first.ok) return;
    expect(first.response.status).toBe(407);
    expect(getHeader(first.response, "www-authenticate")).toBeUndefined();
    expect(parseAuthParams(getHeader(first.response, "proxy-authenticate")!).params.get("realm")).toBe("hikari-gw");
    expect(getHeader(first.response, "to")).toMatch(/;tag=/);
    const ok = auth.authenticateRequest(invite([{ name: "proxy-authorization", value: respond(first.response) }]), { proxy: true, source: PHONE });
    expect(ok).toEqual({ ok: true, user: "801" });
  });

  it("answers 400 to qop-less credentials computed for another Request-URI", () => {
    const { auth } = setup();
    const first = auth.authenticateRequest(invite(), { proxy: true, source: PHONE });
    if (first.ok) throw new Error("expected a challenge");
    const forOther = digestAuthorization({
      // An RFC 2069 phone answers without qop (and so without a nonce-count to guard replays).
      challenge: getHeader(first.response, "proxy-authenticate")!.replace(/,\s*qop="auth"/, ""),
      method: "INVITE",
      uri: "sip:0120444444@hikari-gw",
      username: "801",
      password: "pw-801",
      nc: 1,
    });
    const r = auth.authenticateRequest(invite([{ name: "proxy-authorization", value: forOther }]), { proxy: true, source: PHONE });
    expect(r.ok ? 0 : r.response.status).toBe(400);
  });

  it("answers 400 to qop=auth credentials computed for another Request-URI (a captured credential dials another number)", () => {
    const { auth } = setup();
    const first = auth.authenticateRequest(invite(), { proxy: true, source: PHONE });
    if (first.ok) throw new Error("expected a challenge");
    const forOther = digestAuthorization({ challenge: getHeader(first.response, "proxy-authenticate")!, method: "INVITE", uri: "sip:0120444444@hikari-gw", username: "801", password: "pw-801", nc: 1 });
    expect(forOther).toMatch(/qop=auth/);
    const r = auth.authenticateRequest(invite([{ name: "proxy-authorization", value: forOther }]), { proxy: true, source: PHONE });
    expect(r.ok ? 0 : r.response.status).toBe(400);
  });

  it("a decoy username cannot reach a locked extension: duplicates are malformed and the lock holds", () => {
    const { auth, respond } = setup();
    const first = auth.authenticateRequest(invite(), { proxy: true, source: PHONE });
    if (first.ok) throw new Error("expected a challenge");
    for (let nc = 1; nc <= 3; nc++) auth.authenticateRequest(invite([{ name: "proxy-authorization", value: respond(first.response, "bad", "801", nc) }]), { proxy: true, source: PHONE });
    // The attack: `username="x",` before the real one, with the right password.
    const decoy = respond(first.response, "pw-801", "801", 10).replace(/^Digest /, 'Digest username="x", ');
    const r = auth.authenticateRequest(invite([{ name: "proxy-authorization", value: decoy }]), { proxy: true, source: PHONE });
    expect(r.ok ? 0 : r.response.status).toBe(400);
    // Still locked: the right password alone is refused (the hit did not clear the lock).
    const good = auth.authenticateRequest(invite([{ name: "proxy-authorization", value: respond(first.response, "pw-801", "801", 11) }]), { proxy: true, source: PHONE });
    expect(good.ok ? 0 : good.response.status).toBe(403);
  });

  it("answers an INVITE naming an existing or a missing extension alike (no credentials, wrong ones)", () => {
    const { auth, respond } = setup();
    const shape = (r: ReturnType<typeof auth.authenticateRequest>) => {
      if (r.ok) throw new Error("expected a refusal");
      return { status: r.response.status, reason: r.response.reason, names: r.response.headers.map((h) => h.name) };
    };
    const ch = auth.authenticateRequest(invite(), { proxy: true, source: PHONE });
    if (ch.ok) throw new Error("expected a challenge");
    const src = (n: number) => ({ address: `198.18.0.${n}`, port: 5060 });
    const existing = shape(auth.authenticateRequest(invite([{ name: "proxy-authorization", value: respond(ch.response, "nope", "801", 1) }]), { proxy: true, source: src(20) }));
    const missing = shape(auth.authenticateRequest(invite([{ name: "proxy-authorization", value: respond(ch.response, "nope", "899", 2) }]), { proxy: true, source: src(21) }));
    expect(missing).toEqual(existing);
    expect(existing.status).toBe(403);
  });

  it("2,000 requests with a foreign digest uri and a 20 KB username add a few KB of log, not 40 MB", () => {
    let bytes = 0;
    let lines = 0;
    const log = pino({ level: "debug" }, { write: (l: string) => ((bytes += l.length), lines++) });
    const clock = new ManualClock(1_000_000);
    const digest = new DigestServer({ realm: "hikari-gw", clock });
    const auth = new ExtensionAuth({ extensions: [{ number: "801", password: "pw-801" }], digest, lockout: new Lockout({ clock, log }), log, clock });
    const user = "u".repeat(20_000);
    for (let i = 0; i < 2000; i++) {
      const source = { address: `198.18.${i >> 8}.${i & 255}`, port: 5060 };
      const ch = auth.authenticateRequest(invite(), { proxy: true, source });
      if (ch.ok) throw new Error("expected a challenge");
      const creds = digestAuthorization({ challenge: getHeader(ch.response, "proxy-authenticate")!, method: "INVITE", uri: "sip:0120444444@hikari-gw", username: user, password: "x", nc: 1 });
      auth.authenticateRequest(invite([{ name: "proxy-authorization", value: creds }]), { proxy: true, source });
      if (i % 100 === 0) clock.advance(1000);
    }
    // At most 5 lines a second over the 20 s of fake time, none carrying the username whole.
    expect(lines).toBeLessThanOrEqual(20 * 5 + 5);
    expect(bytes).toBeLessThan(100_000);
  });

  it("ignores WWW credentials when proxy credentials are expected", () => {
    const { auth, respond } = setup();
    const first = auth.authenticateRequest(invite(), { proxy: true, source: PHONE });
    if (first.ok) throw new Error("expected a challenge");
    const r = auth.authenticateRequest(invite([{ name: "authorization", value: respond(first.response) }]), { proxy: true, source: PHONE });
    expect(r.ok ? 0 : r.response.status).toBe(407);
  });

  it("keeps an existing To tag (in-dialog BYE)", () => {
    const { auth } = setup();
    const r = auth.authenticateRequest(invite([], true), { proxy: true, source: PHONE });
    if (r.ok) throw new Error("expected a challenge");
    expect(getHeader(r.response, "to")).toBe("<sip:0312345678@hikari-gw>;tag=tt");
  });

  it("answers 403 to a wrong password or unknown user, 400 to malformed credentials", () => {
    const { auth, respond } = setup();
    const first = auth.authenticateRequest(invite(), { proxy: true, source: PHONE });
    if (first.ok) throw new Error("expected a challenge");
    const bad = auth.authenticateRequest(invite([{ name: "proxy-authorization", value: respond(first.response, "nope") }]), { proxy: true, source: PHONE });
    expect(bad.ok ? 0 : bad.response.status).toBe(403);
    const unknown = auth.authenticateRequest(invite([{ name: "proxy-authorization", value: respond(first.response, "x", "899", 2) }]), {
      proxy: true,
      source: { address: "198.18.0.99", port: 5060 },
    });
    expect(unknown.ok ? 0 : unknown.response.status).toBe(403);
    const malformed = auth.authenticateRequest(invite([{ name: "proxy-authorization", value: 'Digest username="801", realm="hikari-gw"' }]), {
      proxy: true,
      source: PHONE,
    });
    expect(malformed.ok ? 0 : malformed.response.status).toBe(400);
  });

  it("re-challenges a replayed nonce-count and a nonce from another process", () => {
    const { auth, respond, clock } = setup();
    const first = auth.authenticateRequest(invite(), { proxy: true, source: PHONE });
    if (first.ok) throw new Error("expected a challenge");
    const creds = respond(first.response);
    expect(auth.authenticateRequest(invite([{ name: "proxy-authorization", value: creds }]), { proxy: true, source: PHONE }).ok).toBe(true);
    const replay = auth.authenticateRequest(invite([{ name: "proxy-authorization", value: creds }]), { proxy: true, source: PHONE });
    expect(replay.ok ? 0 : replay.response.status).toBe(407);
    const other = new DigestServer({ realm: "hikari-gw", clock });
    const foreign = digestAuthorization({
      challenge: other.challenge({ proxy: true }),
      method: "INVITE",
      uri: "sip:0312345678@hikari-gw",
      username: "801",
      password: "pw-801",
      nc: 1,
    });
    const r = auth.authenticateRequest(invite([{ name: "proxy-authorization", value: foreign }]), { proxy: true, source: PHONE });
    expect(r.ok ? 0 : r.response.status).toBe(407);
  });

  it("refuses a locked-out extension with 403 before verifying, and lets it in after the lock", () => {
    const { auth, respond, clock } = setup();
    const first = auth.authenticateRequest(invite(), { proxy: true, source: PHONE });
    if (first.ok) throw new Error("expected a challenge");
    for (let nc = 1; nc <= 3; nc++) {
      auth.authenticateRequest(invite([{ name: "proxy-authorization", value: respond(first.response, "bad", "801", nc) }]), { proxy: true, source: PHONE });
    }
    const good = respond(first.response, "pw-801", "801", 10);
    const locked = auth.authenticateRequest(invite([{ name: "proxy-authorization", value: good }]), { proxy: true, source: PHONE });
    expect(locked.ok ? 0 : locked.response.status).toBe(403);
    clock.advance(300_000);
    const again = auth.authenticateRequest(invite(), { proxy: true, source: PHONE });
    if (again.ok) throw new Error("expected a challenge");
    expect(auth.authenticateRequest(invite([{ name: "proxy-authorization", value: respond(again.response) }]), { proxy: true, source: PHONE })).toEqual({
      ok: true,
      user: "801",
    });
  });
});
