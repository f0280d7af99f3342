import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import {
  DigestServer,
  computeHa1,
  digestAuthorization,
  digestResponse,
  parseDigestParams,
  type DigestAlgorithm,
  type Ha1Lookup,
  sameResource,
} from "./digest.js";
import { parseUri } from "./message/index.js";

describe("digest test vectors", () => {
  it("RFC 2617 §3.5 (MD5, qop=auth)", () => {
    const ha1 = computeHa1("Mufasa", "testrealm@host.com", "Circle Of Life");
    expect(
      digestResponse({
        algorithm: "MD5",
        ha1,
        nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        method: "GET",
        uri: "/dir/index.html",
        qop: "auth",
        nc: "00000001",
        cnonce: "0a4f113b",
      }),
    ).toBe("6629fae49393a05397450978507c4ef1");
  });

  const rfc7616 = {
    challenge:
      'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
    method: "GET",
    uri: "/dir/index.html",
    username: "Mufasa",
    password: "Circle of Life", // lowercase "of": RFC 7616 erratum 4495
    cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    nc: 1,
  };

  it("RFC 7616 §3.9.1 (MD5) through the client", () => {
    const v = digestAuthorization(rfc7616);
    const p = parseDigestParams(v)!.params;
    expect(p.get("response")).toBe("8ca523f5e9506fed4657c9700eebdbec");
    expect(p.get("opaque")).toBe("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS");
    expect(p.get("nc")).toBe("00000001");
    expect(p.get("qop")).toBe("auth");
  });

  it("RFC 7616 §3.9.1 (SHA-256) through the client", () => {
    const v = digestAuthorization({ ...rfc7616, challenge: rfc7616.challenge.replace("algorithm=MD5", "algorithm=SHA-256") });
    const p = parseDigestParams(v)!.params;
    expect(p.get("response")).toBe("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
    expect(p.get("algorithm")).toBe("SHA-256");
  });
});

describe("parseDigestParams", () => {
  it("handles quoted commas, escapes, tokens and case", () => {
    const r = parseDigestParams('Digest  Realm="a,b", nonce="x\\"y" ,qop="auth,auth-int",stale=TRUE, algorithm=md5')!;
    expect(r.scheme).toBe("Digest");
    expect(r.params.get("realm")).toBe("a,b");
    expect(r.params.get("nonce")).toBe('x"y');
    expect(r.params.get("qop")).toBe("auth,auth-int");
    expect(r.params.get("stale")).toBe("TRUE");
    expect(r.params.get("algorithm")).toBe("md5");
  });
  it("survives garbage without looping", () => {
    for (const s of ["", "Digest", 'Digest ="', "Digest a", "Digest a=", 'Digest a="unterminated', ",,,", "Digest ,=,=\\"]) {
      expect(() => parseDigestParams(s)).not.toThrow();
    }
    expect(parseDigestParams("")).toBeUndefined();
  });
});

function setup(opts: { ttl?: number; algorithm?: DigestAlgorithm; qop?: boolean; maxTracked?: number } = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const server = new DigestServer({
    realm: "hikari-gw",
    secret: "s3cret",
    nonceTtlMs: opts.ttl ?? 60_000,
    clock,
    algorithm: opts.algorithm,
    qop: opts.qop,
    maxTrackedNonces: opts.maxTracked,
  });
  const users: Record<string, string> = { "801": "pw801", "802": "pw802" };
  const lookup: Ha1Lookup = (u, alg) => (users[u] === undefined ? undefined : computeHa1(u, "hikari-gw", users[u]!, alg));
  const answer = (challenge: string, over: Partial<Parameters<typeof digestAuthorization>[0]> = {}) =>
    digestAuthorization({ challenge, method: "REGISTER", uri: "sip:hikari-gw", username: "801", password: "pw801", nc: 1, ...over });
  return { clock, server, lookup, answer };
}

describe("DigestServer", () => {
  it("challenges with realm, nonce, algorithm and qop; stale on request", () => {
    const { server } = setup();
    const c = parseDigestParams(server.challenge({ proxy: false }))!;
    expect(c.scheme).toBe("Digest");
    expect(c.params.get("realm")).toBe("hikari-gw");
    expect(c.params.get("nonce")).toMatch(/^[0-9a-f]{52}$/);
    expect(c.params.get("algorithm")).toBe("MD5");
    expect(c.params.get("qop")).toBe("auth");
    expect(c.params.has("stale")).toBe(false);
    expect(parseDigestParams(server.challenge({ proxy: true, stale: true }))!.params.get("stale")).toBe("true");
    // Each challenge carries its own nonce.
    expect(server.newNonce()).not.toBe(server.newNonce());
  });

  it("accepts the right password and rejects the wrong one", () => {
    const { server, lookup, answer } = setup();
    const ch = server.challenge({ proxy: false });
    expect(server.verify(answer(ch), "REGISTER", lookup)).toEqual({ ok: true, user: "801" });
    expect(server.verify(answer(ch, { password: "nope", nc: 2 }), "REGISTER", lookup)).toEqual({
      ok: false,
      reason: "bad-response",
      user: "801",
    });
  });

  it("binds qop-less credentials to the Request-URI's resource (RFC 3261 §22.4)", () => {
    const { server, lookup, answer } = setup({ qop: false });
    const ch = server.challenge({ proxy: true });
    const v = answer(ch, { method: "INVITE", uri: "sip:802@198.18.2.1" });
    // Replayed toward another number: refused before the hash is even looked at.
    expect(server.verify(v, "INVITE", lookup, parseUri("sip:0312345678@198.18.2.1"))).toEqual({ ok: false, reason: "uri-mismatch", user: "801" });
    expect(server.verify(v, "INVITE", lookup, parseUri("sip:802@198.18.2.1;transport=udp"))).toEqual({ ok: true, user: "801" });
  });

  it("binds the digest uri to the Request-URI with qop=auth too: credentials for one number do not dial another", () => {
    const { server, lookup, answer } = setup();
    const ch = server.challenge({ proxy: true });
    // Signed for 1500 (a fresh nonce-count, so no replay), sent to dial 1501.
    const v = answer(ch, { method: "INVITE", uri: "sip:1500@127.0.0.1" });
    expect(server.verify(v, "INVITE", lookup, parseUri("sip:1501@127.0.0.1"))).toMatchObject({ ok: false, reason: "uri-mismatch" });
    // SIPp's default digest uri (sip:HOST:PORT, no user) names no number: refused as well.
    const fixed = answer(server.challenge({ proxy: true }), { method: "INVITE", uri: "sip:127.0.0.1:5070" });
    expect(server.verify(fixed, "INVITE", lookup, parseUri("sip:1500@127.0.0.1"))).toMatchObject({ ok: false, reason: "uri-mismatch" });
    expect(server.verify(v, "INVITE", lookup, parseUri("sip:1500@127.0.0.1"))).toEqual({ ok: true, user: "801" });
  });

  it("refuses credentials with a parameter given twice as malformed, whichever copy is right", () => {
    const { server, lookup, answer } = setup();
    const v = answer(server.challenge({ proxy: true }), { method: "INVITE" });
    expect(server.verify(v.replace(/^Digest /, 'Digest username="x", '), "INVITE", lookup)).toMatchObject({ ok: false, reason: "malformed" });
    expect(server.verify(`${v}, username="x"`, "INVITE", lookup)).toMatchObject({ ok: false, reason: "malformed" });
  });

  it("compares digest-uri and Request-URI by scheme, user, host and port", () => {
    const r = parseUri("sip:802@GW.example:5060;transport=udp");
    expect(sameResource("sip:802@gw.example", r)).toBe(true);
    expect(sameResource("sip:802@gw.example:5060", r)).toBe(true);
    expect(sameResource("sip:802@gw.example:5070", r)).toBe(false);
    expect(sameResource("sips:802@gw.example", r)).toBe(false);
    expect(sameResource("sip:803@gw.example", r)).toBe(false);
    expect(sameResource("sip:gw.example", r)).toBe(false);
    expect(sameResource("sip:802@other.example", r)).toBe(false);
    expect(sameResource("not a uri", r)).toBe(false);
    expect(sameResource("sip:gw.example", parseUri("sip:gw.example"))).toBe(true);
  });

  it("binds the response to the method", () => {
    const { server, lookup, answer } = setup();
    const v = answer(server.challenge({ proxy: true }), { method: "INVITE" });
    expect(server.verify(v, "BYE", lookup)).toMatchObject({ ok: false, reason: "bad-response" });
    expect(server.verify(v, "INVITE", lookup)).toEqual({ ok: true, user: "801" });
  });

  it("reports unknown users, foreign realms, other schemes and missing credentials", () => {
    const { server, lookup, answer } = setup();
    const ch = server.challenge({ proxy: false });
    expect(server.verify(answer(ch, { username: "999" }), "REGISTER", lookup)).toMatchObject({ ok: false, reason: "unknown-user" });
    expect(server.verify(answer(ch.replace('realm="hikari-gw"', 'realm="other"')), "REGISTER", lookup)).toMatchObject({
      ok: false,
      reason: "realm-mismatch",
    });
    expect(server.verify(undefined, "REGISTER", lookup)).toEqual({ ok: false, reason: "no-credentials" });
    expect(server.verify('Basic dXNlcjpwdw==', "REGISTER", lookup)).toEqual({ ok: false, reason: "no-credentials" });
    expect(server.verify('Digest username="801", realm="hikari-gw"', "REGISTER", lookup)).toMatchObject({ ok: false, reason: "malformed" });
  });

  it("refuses nonces it did not issue (forged, other secret, tampered timestamp)", () => {
    const { server, lookup, answer, clock } = setup();
    const forged = 'Digest realm="hikari-gw", nonce="0123456789abcdef", qop="auth"';
    expect(server.verify(answer(forged), "REGISTER", lookup)).toMatchObject({ ok: false, reason: "bad-nonce" });
    const other = new DigestServer({ realm: "hikari-gw", secret: "other", clock });
    expect(server.verify(answer(other.challenge({ proxy: false })), "REGISTER", lookup)).toMatchObject({ ok: false, reason: "bad-nonce" });
    const ch = server.challenge({ proxy: false });
    const nonce = parseDigestParams(ch)!.params.get("nonce")!;
    const bumped = (parseInt(nonce.slice(0, 12), 16) + 1).toString(16).padStart(12, "0") + nonce.slice(12);
    expect(server.verify(answer(ch.replace(nonce, bumped)), "REGISTER", lookup)).toMatchObject({ ok: false, reason: "bad-nonce" });
  });

  it("says stale only for right credentials on an expired nonce", () => {
    const { server, lookup, answer, clock } = setup({ ttl: 30_000 });
    const ch = server.challenge({ proxy: false });
    clock.advance(30_001);
    expect(server.verify(answer(ch), "REGISTER", lookup)).toMatchObject({ ok: false, reason: "stale-nonce" });
    expect(server.verify(answer(ch, { password: "bad" }), "REGISTER", lookup)).toMatchObject({ ok: false, reason: "bad-response" });
  });

  it("refuses a replayed or decreasing nonce-count, accepts increasing ones", () => {
    const { server, lookup, answer } = setup();
    const ch = server.challenge({ proxy: false });
    expect(server.verify(answer(ch, { nc: 1 }), "REGISTER", lookup).ok).toBe(true);
    expect(server.verify(answer(ch, { nc: 1 }), "REGISTER", lookup)).toMatchObject({ ok: false, reason: "replay" });
    expect(server.verify(answer(ch, { nc: 3 }), "REGISTER", lookup).ok).toBe(true);
    expect(server.verify(answer(ch, { nc: 2 }), "REGISTER", lookup)).toMatchObject({ ok: false, reason: "replay" });
    // The exact same header value twice is a replay too.
    const v = answer(ch, { nc: 9 });
    expect(server.verify(v, "REGISTER", lookup).ok).toBe(true);
    expect(server.verify(v, "REGISTER", lookup).ok).toBe(false);
  });

  it("bounds the nonce-count table", () => {
    const { server, lookup, answer } = setup({ maxTracked: 100 });
    for (let k = 0; k < 500; k++) expect(server.verify(answer(server.challenge({ proxy: false })), "REGISTER", lookup).ok).toBe(true);
    expect(server.trackedNonces()).toBeLessThanOrEqual(100);
    expect(server.trackedNonces()).toBeGreaterThanOrEqual(50);
  });

  it("sends a client whose nonce is no longer tracked for a fresh one (stale), never accepts it blind", () => {
    const { server, lookup, answer } = setup({ maxTracked: 10 });
    const ch = server.challenge({ proxy: false });
    expect(server.verify(answer(ch, { nc: 1 }), "REGISTER", lookup).ok).toBe(true);
    for (let k = 0; k < 20; k++) server.verify(answer(server.challenge({ proxy: false })), "REGISTER", lookup);
    expect(server.verify(answer(ch, { nc: 2 }), "REGISTER", lookup)).toMatchObject({ ok: false, reason: "stale-nonce" });
  });

  it("accepts old phones without qop (RFC 2069 form) and refuses auth-int", () => {
    const { server, lookup, answer } = setup({ qop: false });
    const ch = server.challenge({ proxy: false });
    expect(ch).not.toContain("qop");
    const v = answer(ch);
    expect(v).not.toContain("nc=");
    expect(server.verify(v, "REGISTER", lookup).ok).toBe(true);
    expect(server.verify(v, "REGISTER", lookup).ok).toBe(true); // no nc: nothing to count
    const withQop = answer(server.challenge({ proxy: false }).concat(', qop="auth"'));
    expect(server.verify(withQop.replace("qop=auth", "qop=auth-int"), "REGISTER", lookup)).toMatchObject({ ok: false, reason: "bad-qop" });
  });

  it.each(["MD5-sess", "SHA-256", "SHA-256-sess"] as const)("round-trips %s", (algorithm) => {
    const { server, lookup, answer } = setup({ algorithm });
    const ch = server.challenge({ proxy: false });
    expect(ch).toContain(`algorithm=${algorithm}`);
    expect(server.verify(answer(ch), "REGISTER", lookup)).toEqual({ ok: true, user: "801" });
    expect(server.verify(answer(ch, { password: "x", nc: 2 }), "REGISTER", lookup)).toMatchObject({ ok: false, reason: "bad-response" });
  });
});
