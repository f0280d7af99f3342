import { describe, expect, it } from "vitest";
import { sdpMediaTarget } from "../media/sdp.js";
import { mediaTargetOf } from "./sdp-target.js";

const body = (port: number, dir = "sendrecv", ip = "198.18.0.11") =>
  `v=0\r\no=- 1 1 IN IP4 ${ip}\r\ns=-\r\nc=IN IP4 ${ip}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=${dir}\r\n`;

describe("mediaTargetOf", () => {
  it("answers as sdpMediaTarget for every body, whichever came before it", () => {
    const bodies = [body(4000), body(4000), body(4002, "sendonly"), body(4000), "not sdp", body(4004, "sendrecv", "0.0.0.0"), "not sdp", body(4000)];
    for (const b of bodies) expect(mediaTargetOf(b)).toEqual(sdpMediaTarget(b));
  });

  it("reads a body once for two readers in a row, and the shared answer cannot be changed", () => {
    const b = body(4010);
    const first = mediaTargetOf(b)!;
    expect(mediaTargetOf(`${b}`)).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first.payloadTypes)).toBe(true);
    expect(first.payloadTypes).toEqual([0, 101]);
  });
});
