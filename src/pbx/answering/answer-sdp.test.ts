import { describe, expect, it } from "vitest";
import { callerMedia, machineSdp } from "./answer-sdp.js";

const NGN = "v=0\r\no=- 1 1 IN IP4 198.18.5.9\r\ns=-\r\nc=IN IP4 198.18.5.9\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";

describe("answering machine SDP", () => {
  it("reads the caller's address, port, PCMU and telephone-event type", () => {
    expect(callerMedia(NGN)).toEqual({ address: "198.18.5.9", port: 30000, payloadType: 0, telephoneEventPt: 101 });
  });

  it("takes PCMA when PCMU is not offered, and refuses an offer with neither or without audio", () => {
    expect(callerMedia(NGN.replace("RTP/AVP 0 101", "RTP/AVP 8").replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000"))).toMatchObject({ payloadType: 8, telephoneEventPt: undefined });
    expect(callerMedia(NGN.replace("RTP/AVP 0 101", "RTP/AVP 18 101"))).toBeUndefined();
    expect(callerMedia(NGN.replace("m=audio 30000", "m=audio 0"))).toBeUndefined();
    expect(callerMedia("garbage")).toBeUndefined();
  });

  it("answers with the caller's codec and telephone-event on its own address, one c= at session level", () => {
    const sdp = machineSdp("198.18.4.2", 50002, callerMedia(NGN), 7);
    expect(sdp).toContain("c=IN IP4 198.18.4.2\r\n");
    expect(sdp).toContain("m=audio 50002 RTP/AVP 0 101\r\n");
    expect(sdp).toContain("a=fmtp:101 0-15\r\n");
    expect(sdp).toContain("a=ptime:20\r\n");
    expect(sdp.match(/^c=/gm)).toHaveLength(1);
    expect(callerMedia(sdp)).toEqual({ address: "198.18.4.2", port: 50002, payloadType: 0, telephoneEventPt: 101 });
  });

  it("offers PCMU with telephone-event 101 when the caller made no offer", () => {
    expect(machineSdp("198.18.4.2", 50002, undefined, 7)).toContain("m=audio 50002 RTP/AVP 0 101\r\n");
  });
});
