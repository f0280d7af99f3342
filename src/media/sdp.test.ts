import { describe, expect, it } from "vitest";
import { rewriteSdp, sdpMediaTarget } from "./sdp.js";

const PHONE_OFFER = [
  "v=0",
  "o=- 3456 7 IN IP4 10.8.0.5",
  "s=phone",
  "c=IN IP4 10.8.0.5",
  "t=0 0",
  "m=audio 4000 RTP/AVP 0 8 101",
  "c=IN IP4 10.8.0.5",
  "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:8 PCMA/8000",
  "a=rtpmap:101 telephone-event/8000",
  "a=fmtp:101 0-15",
  "a=ptime:20",
  "a=rtcp:4001 IN IP4 10.8.0.5",
  "a=sendrecv",
  "m=video 4002 RTP/AVP 96",
  "c=IN IP4 10.8.0.5",
  "a=rtpmap:96 H264/90000",
  "",
].join("\r\n");

const GW = { address: "198.18.0.1", rtpPort: 50000, rtcpPort: 50001 };

describe("rewriteSdp", () => {
  it("names the gateway in o= and one session-level c=, with no media-level c= left", () => {
    const out = rewriteSdp(PHONE_OFFER, GW);
    expect(out).toMatch(/^o=- 3456 7 IN IP4 198\.18\.0\.1$/m);
    expect(out.match(/^c=/gm)).toEqual(["c="]);
    expect(out.indexOf("c=IN IP4 198.18.0.1")).toBeLessThan(out.indexOf("m=audio"));
    expect(out).not.toContain("10.8.0.5");
  });

  it("moves the RTP port and a=rtcp, keeps codecs, telephone-event, ptime and direction", () => {
    const out = rewriteSdp(PHONE_OFFER, GW);
    expect(out).toMatch(/^m=audio 50000 RTP\/AVP 0 8 101$/m);
    expect(out).toMatch(/^a=rtcp:50001 IN IP4 198\.18\.0\.1$/m);
    for (const l of ["a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=ptime:20", "a=sendrecv"]) expect(out).toContain(l);
  });

  it("disables the other m-lines (port 0) but keeps them for RFC 3264 §6", () => {
    const out = rewriteSdp(PHONE_OFFER, GW);
    expect(out).toMatch(/^m=video 0 RTP\/AVP 96$/m);
  });

  it("keeps the session version unless asked to bump it", () => {
    expect(rewriteSdp(PHONE_OFFER, GW)).toMatch(/^o=- 3456 7 /m);
    expect(rewriteSdp(PHONE_OFFER, { ...GW, sessionVersionBump: true })).toMatch(/^o=- 3456 8 /m);
  });

  it("adds a=rtcp only when the peer had one or the RTCP port is not rtp+1", () => {
    const plain = PHONE_OFFER.replace("a=rtcp:4001 IN IP4 10.8.0.5\r\n", "");
    expect(rewriteSdp(plain, GW)).not.toContain("a=rtcp:");
    expect(rewriteSdp(plain, { ...GW, rtcpPort: 50003 })).toContain("a=rtcp:50003 IN IP4 198.18.0.1");
  });

  it("creates a session-level c= when the offer had only media-level ones", () => {
    const mediaOnly = PHONE_OFFER.replace("s=phone\r\nc=IN IP4 10.8.0.5\r\n", "s=phone\r\n");
    const out = rewriteSdp(mediaOnly, GW);
    expect(out.match(/^c=.*$/gm)).toEqual(["c=IN IP4 198.18.0.1"]);
    expect(out.indexOf("c=")).toBeLessThan(out.indexOf("m="));
  });

  it("round-trips: what the receiver learns from the rewrite is the gateway", () => {
    const t = sdpMediaTarget(rewriteSdp(PHONE_OFFER, GW));
    expect(t).toEqual({ address: "198.18.0.1", rtpPort: 50000, rtcpPort: 50001, direction: "sendrecv", payloadTypes: [0, 8, 101], hold: false });
  });
});

// Linphone-style: ICE at session and media level, a candidate sdp-transform cannot parse, video.
const ICE_OFFER = [
  "v=0",
  "o=alice 1 1 IN IP4 10.8.0.5",
  "s=Talk",
  "c=IN IP4 10.8.0.5",
  "t=0 0",
  "a=ice-pwd:31ec21eb38b2ec6d36e8dc7b",
  "a=ice-ufrag:e5ce5b1a",
  "a=ice-lite",
  "a=ice-options:trickle",
  "m=audio 7078 RTP/AVP 0 101",
  "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:101 telephone-event/8000",
  "a=rtcp:7079",
  "a=ice-ufrag:m1ufrag",
  "a=ice-pwd:m1pwdm1pwdm1pwdm1pwdm1",
  "a=candidate:1 1 UDP 2130706431 10.8.0.5 7078 typ host",
  "a=candidate:1 2 UDP 2130706430 10.8.0.5 7079 typ host",
  "a=candidate:2 1 UDP 1694498815 203.0.113.7 40123 typ srflx raddr 10.8.0.5 rport 7078",
  "a=candidate:broken",
  "a=remote-candidates:1 203.0.113.9 5000",
  "a=end-of-candidates",
  "a=sendrecv",
  "m=video 9078 RTP/AVP 96",
  "a=rtpmap:96 VP8/90000",
  "a=candidate:1 1 UDP 2130706431 10.8.0.5 9078 typ host",
  "",
].join("\r\n");

describe("rewriteSdp: ICE removed (rtpengine ICE=remove)", () => {
  it("drops every ICE attribute at session and media level, keeps the rest", () => {
    const out = rewriteSdp(ICE_OFFER, GW);
    for (const a of ["a=candidate", "a=ice-ufrag", "a=ice-pwd", "a=ice-lite", "a=ice-options", "a=remote-candidates", "a=end-of-candidates"]) expect(out).not.toContain(a);
    expect(out).not.toContain("10.8.0.5");
    expect(out).not.toContain("203.0.113");
    for (const l of ["m=audio 50000 RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=rtcp:50001 IN IP4 198.18.0.1", "a=sendrecv", "m=video 0 RTP/AVP 96"]) expect(out).toContain(l);
  });

  it("leaves an offer without ICE as it was", () => {
    expect(rewriteSdp(PHONE_OFFER, GW)).toBe(rewriteSdp(rewriteSdp(PHONE_OFFER, GW), GW));
    const attrs = (sdp: string): number => sdp.split("\r\n").filter((l) => l.startsWith("a=")).length;
    expect(attrs(rewriteSdp(PHONE_OFFER, GW))).toBe(attrs(PHONE_OFFER));
  });
});

describe("rewriteSdp: RFC 2543 hold (c=0.0.0.0) made explicit (RFC 3264 §8.4)", () => {
  const HOLD_2543 = "v=0\r\no=- 1 2 IN IP4 10.8.0.5\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 7078 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

  it("adds a=sendonly to the audio m-line when there is no direction, and the rewrite still reads as hold", () => {
    const out = rewriteSdp(HOLD_2543, GW);
    expect(out).toMatch(/^m=audio 50000 RTP\/AVP 0\r\n(a=.*\r\n)*a=sendonly\r\n/m);
    expect(out).not.toContain("0.0.0.0");
    expect(sdpMediaTarget(out)).toMatchObject({ address: "198.18.0.1", direction: "sendonly", hold: true });
  });

  it("takes the receive half away from an explicit direction, at session or media level", () => {
    expect(rewriteSdp(HOLD_2543 + "a=recvonly\r\n", GW)).toContain("a=inactive");
    expect(rewriteSdp(HOLD_2543 + "a=sendrecv\r\n", GW)).toContain("a=sendonly");
    expect(rewriteSdp(HOLD_2543 + "a=inactive\r\n", GW)).toContain("a=inactive");
    const sessionLevel = HOLD_2543.replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n");
    expect(rewriteSdp(sessionLevel, GW)).toMatch(/^m=audio[^]*a=inactive/m);
  });

  it("sees a media-level c=0.0.0.0 too, and leaves an active offer without a direction alone", () => {
    const mediaLevel = PHONE_OFFER.replace("a=sendrecv\r\n", "").replace("m=audio 4000 RTP/AVP 0 8 101\r\nc=IN IP4 10.8.0.5", "m=audio 4000 RTP/AVP 0 8 101\r\nc=IN IP4 0.0.0.0");
    expect(rewriteSdp(mediaLevel, GW)).toContain("a=sendonly");
    const active = PHONE_OFFER.replace("a=sendrecv\r\n", "");
    expect(rewriteSdp(active, GW)).not.toMatch(/a=(sendonly|recvonly|inactive|sendrecv)/);
  });
});

describe("sdpMediaTarget", () => {
  it("reads the peer's address, ports, direction and payload types", () => {
    expect(sdpMediaTarget(PHONE_OFFER)).toEqual({ address: "10.8.0.5", rtpPort: 4000, rtcpPort: 4001, direction: "sendrecv", payloadTypes: [0, 8, 101], hold: false });
  });

  it("defaults RTCP to rtp+1 and prefers the media-level c=", () => {
    const sdp = PHONE_OFFER.replace("a=rtcp:4001 IN IP4 10.8.0.5\r\n", "").replace("m=audio 4000 RTP/AVP 0 8 101\r\nc=IN IP4 10.8.0.5", "m=audio 4000 RTP/AVP 0 8 101\r\nc=IN IP4 10.8.0.9");
    expect(sdpMediaTarget(sdp)).toMatchObject({ address: "10.8.0.9", rtcpPort: 4001 });
  });

  it("sees hold: sendonly, inactive, or c=0.0.0.0 (RFC 2543)", () => {
    expect(sdpMediaTarget(PHONE_OFFER.replace("a=sendrecv", "a=sendonly"))).toMatchObject({ direction: "sendonly", hold: true });
    expect(sdpMediaTarget(PHONE_OFFER.replace("a=sendrecv", "a=inactive"))).toMatchObject({ direction: "inactive", hold: true });
    expect(sdpMediaTarget(PHONE_OFFER.replace("a=sendrecv", "a=recvonly"))).toMatchObject({ direction: "recvonly", hold: false });
    expect(sdpMediaTarget(PHONE_OFFER.replaceAll("10.8.0.5", "0.0.0.0"))).toMatchObject({ direction: "sendonly", hold: true });
  });

  it("takes a session-level direction when the m-line has none", () => {
    const sdp = PHONE_OFFER.replace("a=sendrecv\r\n", "").replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
    expect(sdpMediaTarget(sdp)).toMatchObject({ direction: "sendonly", hold: true });
  });

  it("returns null without usable audio", () => {
    expect(sdpMediaTarget(PHONE_OFFER.replace("m=audio 4000", "m=audio 0"))).toBeNull();
    expect(sdpMediaTarget("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n")).toBeNull();
  });
});
