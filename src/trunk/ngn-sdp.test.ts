import { describe, expect, it } from "vitest";
import { shapeForNgn, sdpVersion } from "./ngn-sdp.js";

const offer = (m: string, extra = "") =>
  `v=0\r\no=- 7 3 IN IP4 198.18.4.2\r\ns=-\r\nc=IN IP4 198.18.4.2\r\nt=0 0\r\n${m}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=rtpmap:96 telephone-event/8000\r\n${extra}a=sendrecv\r\n`;

describe("SDP for the NGN", () => {
  it("keeps PCMU and telephone-event 101 only, ptime 20, one session-level c=", () => {
    const out = shapeForNgn(offer("m=audio 40000 RTP/AVP 9 8 0 101", "c=IN IP4 198.18.4.2\r\n"))!;
    expect(out).toMatch(/m=audio 40000 RTP\/AVP 0 101\r\n/);
    expect(out).not.toMatch(/PCMA|G722/);
    expect(out).toContain("a=ptime:20");
    expect(out.match(/^c=/gm)).toHaveLength(1);
    expect(out).toContain("a=fmtp:101 0-15");
  });

  it("renumbers telephone-event under another payload type to 101 (the NGN wants 101)", () => {
    const out = shapeForNgn(offer("m=audio 40000 RTP/AVP 0 96"))!;
    expect(out).toMatch(/m=audio 40000 RTP\/AVP 0 101\r\n/);
    expect(out).toContain("a=rtpmap:101 telephone-event/8000\r\n");
    expect(out).toContain("a=fmtp:101 0-15\r\n");
    expect(out).not.toMatch(/:96 /);
    expect(shapeForNgn(offer("m=audio 40000 RTP/AVP 0 96 101"))!).toMatch(/RTP\/AVP 0 101\r\n/);
  });

  it("offers telephone-event 101 even for a phone that named none (the home gateway's form, docs/ngn.md)", () => {
    const out = shapeForNgn(offer("m=audio 40000 RTP/AVP 0"))!;
    expect(out).toMatch(/m=audio 40000 RTP\/AVP 0 101\r\n/);
    expect(out).toContain("a=rtpmap:101 telephone-event/8000\r\n");
    expect(out).toContain("a=fmtp:101 0-15\r\n");
  });

  it("refuses an offer without PCMU (no transcoding: the phone gets 488)", () => {
    expect(shapeForNgn(offer("m=audio 40000 RTP/AVP 8 101"))).toBeNull();
  });

  it("drops video and crypto lines", () => {
    const out = shapeForNgn(offer("m=audio 40000 RTP/AVP 0 101") + "m=video 40002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n")!;
    expect(out).not.toContain("m=video");
  });

  it("states telephone-event 0-15 toward the NGN whatever range the phone offered (docs/ngn.md)", () => {
    const wide = shapeForNgn(offer("m=audio 40000 RTP/AVP 0 101").replace("a=fmtp:101 0-15", "a=fmtp:101 0-16"))!;
    expect(wide).toContain("a=fmtp:101 0-15\r\n");
    expect(wide).not.toContain("0-16");
    expect(wide.match(/a=fmtp:101/g)).toHaveLength(1);
    const none = shapeForNgn(offer("m=audio 40000 RTP/AVP 0 101").replace("a=fmtp:101 0-15\r\n", ""))!;
    expect(none).toContain("a=fmtp:101 0-15\r\n");
  });

  it("refuses SRTP-only audio (488 before the NGN bills a call) and picks the plain RTP line when there is one", () => {
    expect(shapeForNgn(offer("m=audio 40000 RTP/SAVP 0 101", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoc2VuZGVy\r\n"))).toBeNull();
    expect(shapeForNgn(offer("m=audio 40000 UDP/TLS/RTP/SAVPF 0 101"))).toBeNull();
    const both = offer("m=audio 40000 RTP/SAVP 0 101") + "m=audio 40002 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n";
    expect(shapeForNgn(both)).toMatch(/m=audio 40002 RTP\/AVP 0 101\r\n/);
    expect(shapeForNgn(offer("m=audio 40000 RTP/AVPF 0 101"))).toMatch(/m=audio 40000 RTP\/AVP 0 101\r\n/);
  });

  it("reads the o= version, which tells a refresh from a new offer", () => {
    expect(sdpVersion(offer("m=audio 1 RTP/AVP 0"))).toBe("3");
  });
});
