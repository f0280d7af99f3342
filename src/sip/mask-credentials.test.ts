import { describe, expect, it } from "vitest";
import { maskCredentials } from "./mask-credentials.js";

const MSG = [
  "INVITE sip:802@gw SIP/2.0",
  "Via: SIP/2.0/UDP 198.18.0.10:5060;branch=z9hG4bK1",
  'Proxy-Authorization: Digest username="801", realm="hikari-gw", nonce="0123abcd", uri="sip:802@gw", response="6629fae49393a05397450978507c4ef1", cnonce="0a4f113b", qop=auth, nc=00000001',
  'authorization: Digest username="801",realm="hikari-gw",nonce=abc,uri="sip:gw",response=ffff',
  'WWW-Authenticate: Digest realm="hikari-gw", nonce="challenge-nonce"',
  "Content-Length: 0",
  "",
  "",
].join("\r\n");

describe("maskCredentials", () => {
  it("hides response, nonce and cnonce of Authorization / Proxy-Authorization, keeps username, realm and uri", () => {
    const m = maskCredentials(MSG);
    expect(m).not.toContain("6629fae49393a05397450978507c4ef1");
    expect(m).not.toContain("0a4f113b");
    expect(m).not.toContain("0123abcd");
    expect(m).not.toMatch(/response=ffff/);
    expect(m).toContain('Proxy-Authorization: Digest username="801", realm="hikari-gw", nonce="***", uri="sip:802@gw", response="***", cnonce="***", qop=auth, nc=00000001');
    expect(m).toContain('authorization: Digest username="801",realm="hikari-gw",nonce="***",uri="sip:gw",response="***"');
    // A challenge carries no secret of the phone's: left as it is, like every other line.
    expect(m).toContain('WWW-Authenticate: Digest realm="hikari-gw", nonce="challenge-nonce"');
    expect(m.split("\r\n").length).toBe(MSG.split("\r\n").length);
  });
});
