import { describe, expect, it } from "vitest";
import sdpTransform from "sdp-transform";
import { refuseAll, shapeAnswer } from "./answer-shape.js";

const head = (addr: string) => `v=0\r\no=- 1 1 IN IP4 ${addr}\r\ns=-\r\nc=IN IP4 ${addr}\r\nt=0 0\r\n`;
const AUDIO = "m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
const VIDEO = "m=video 40002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";
const NGN_ANSWER = head("198.18.5.9") + "m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n";

const lines = (sdp: string) => sdpTransform.parse(sdp).media.map((m) => `${m.type} ${m.port} ${m.protocol}`);

describe("shapeAnswer (RFC 3264 §6)", () => {
  it("puts a video line the other side never saw back, with port 0, after the answered audio", () => {
    const out = shapeAnswer(head("198.18.0.11") + AUDIO + VIDEO, NGN_ANSWER);
    expect(lines(out)).toEqual(["audio 30000 RTP/AVP", "video 0 RTP/AVP"]);
    expect(out).toContain("a=ptime:20");
  });

  it("keeps the offer's order when the dropped line came first", () => {
    const out = shapeAnswer(head("198.18.0.11") + VIDEO + AUDIO, NGN_ANSWER);
    expect(lines(out)).toEqual(["video 0 RTP/AVP", "audio 30000 RTP/AVP"]);
  });

  it("answers an RTP/AVPF line with the offer's profile name, and refuses a secure line a plain answer cannot stand for", () => {
    const avpf = shapeAnswer(head("198.18.0.11") + AUDIO.replace("RTP/AVP", "RTP/AVPF"), NGN_ANSWER);
    expect(lines(avpf)).toEqual(["audio 30000 RTP/AVPF"]);
    const savp = shapeAnswer(head("198.18.0.11") + AUDIO.replace("RTP/AVP", "RTP/SAVP") + AUDIO.replace("40000", "40004"), NGN_ANSWER);
    expect(lines(savp)).toEqual(["audio 0 RTP/SAVP", "audio 30000 RTP/AVP"]);
  });

  it("refuses an answer line of the wrong transport when the counts already match", () => {
    const out = shapeAnswer(head("198.18.0.11") + AUDIO.replace("RTP/AVP", "RTP/SAVP"), NGN_ANSWER);
    expect(lines(out)).toEqual(["audio 0 RTP/SAVP"]);
    expect(sdpTransform.parse(out).media[0]!.payloads).toBe("0 101");
  });

  it("leaves an answer that already has the offer's shape byte for byte", () => {
    const answer = head("198.18.0.12") + AUDIO.replace("40000", "42000") + VIDEO.replace("40002", "0");
    expect(shapeAnswer(head("198.18.0.11") + AUDIO + VIDEO, answer)).toBe(answer);
  });

  it("refuses an offered port-0 line the answer tried to open", () => {
    const out = shapeAnswer(head("198.18.0.11") + AUDIO + VIDEO.replace("40002", "0"), head("198.18.0.12") + AUDIO + VIDEO);
    expect(lines(out)).toEqual(["audio 40000 RTP/AVP", "video 0 RTP/AVP"]);
  });

  it("returns the answer as it is when the offer is not SDP", () => {
    expect(shapeAnswer("garbage", NGN_ANSWER)).toBe(NGN_ANSWER);
  });
});

describe("refuseAll", () => {
  it("answers every offered line with port 0, from the given host", () => {
    const out = refuseAll(head("198.18.0.12") + AUDIO + VIDEO, "198.18.0.1");
    expect(lines(out)).toEqual(["audio 0 RTP/AVP", "video 0 RTP/AVP"]);
    expect(out).toMatch(/^c=IN IP4 198\.18\.0\.1\r$/m);
    expect(out).toMatch(/^o=- \d+ 1 IN IP4 198\.18\.0\.1\r$/m);
  });
});

describe("shapeAnswer on malformed bodies", () => {
  it("leaves the answer as it is when the offer's m= line cannot be read (never writes `m=undefined`)", () => {
    const out = shapeAnswer("v=0\r\nm=audio\r\n", NGN_ANSWER);
    expect(out).toBe(NGN_ANSWER);
    expect(shapeAnswer(head("198.18.0.11") + AUDIO + VIDEO, "v=0\r\nm=\r\n")).toBe("v=0\r\nm=\r\n");
    expect(shapeAnswer("garbage", "more garbage")).toBe("more garbage");
  });
});
