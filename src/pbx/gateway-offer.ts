/**
 * The SDP offer the gateway makes itself (click-to-dial: it calls the extension before any
 * phone offered anything). RFC 3264 §5: one audio stream, sendrecv, on the relay's ports.
 * PCMU only, plus RFC 4733 telephone-event 0-15 as PT 101: the extension's answer becomes
 * the offer toward the number it dials, and the line takes nothing else (docs/ngn.md
 * "Media"), so offering more would only let the phone pick a codec the line refuses.
 */

/** RFC 3264 §5, RFC 4566 §5: `rtcpPort` is announced (RFC 3605) only where it is not rtp+1. */
export function gatewayOffer(address: string, rtpPort: number, rtcpPort = rtpPort + 1, sessionId = Date.now()): string {
  const ip = address.includes(":") ? "IP6" : "IP4";
  const lines = [
    "v=0",
    `o=hikari-gw ${sessionId} 1 IN ${ip} ${address}`,
    "s=hikari-gw",
    `c=IN ${ip} ${address}`,
    "t=0 0",
    `m=audio ${rtpPort} RTP/AVP 0 101`,
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=ptime:20",
  ];
  if (rtcpPort !== rtpPort + 1) lines.push(`a=rtcp:${rtcpPort} IN ${ip} ${address}`);
  lines.push("a=sendrecv");
  return lines.join("\r\n") + "\r\n";
}
