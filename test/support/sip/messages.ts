/**
 * Real-phone-like messages for tests and benchmarks (addresses from RFC 5737 / 2544 ranges
 * and example domains). Lines are joined with CRLF; Content-Length is filled in.
 */

function msg(lines: string[], body = ""): Buffer {
  const text = lines.join("\r\n").replace("{CL}", String(Buffer.byteLength(body)));
  return Buffer.from(text + "\r\n\r\n" + body, "utf8");
}

/** Linphone 5 REGISTER, second attempt with digest credentials. */
export const LINPHONE_REGISTER = msg([
  "REGISTER sip:198.18.0.1 SIP/2.0",
  "Via: SIP/2.0/UDP 198.18.1.20:5060;branch=z9hG4bK.dQX3eTqFb;rport",
  "From: <sip:801@198.18.0.1>;tag=w8~Rk3Bkm",
  "To: sip:801@198.18.0.1",
  "CSeq: 21 REGISTER",
  "Call-ID: pVUAi9mmbj",
  "Max-Forwards: 70",
  "Supported: replaces, outbound, gruu, path",
  "Accept: application/sdp",
  "Accept: text/plain",
  "Accept: application/vnd.gsma.rcs-ft-http+xml",
  'Contact: <sip:801@198.18.1.20;transport=udp>;+sip.instance="<urn:uuid:bf4e5a2d-2a4f-0041-9a28-2b8f0c5d1e4a>";+org.linphone.specs="lime";expires=600',
  "Expires: 600",
  "User-Agent: Linphone-Desktop/5.2.6 (Ubuntu 24.04) Linphone/5.3.72 (belle-sip/5.3.72)",
  'Authorization:  Digest realm="hikari-gw", nonce="1718000000.3f2a9c", algorithm=MD5, opaque="b4c1", username="801",  uri="sip:198.18.0.1", response="2d8ac7e0a1f84be6f0cbd2e7e5f4a3b1", cnonce="Zt4k1", nc=00000001, qop=auth',
  "Content-Length: {CL}",
]);

const MICROSIP_SDP = [
  "v=0",
  "o=- 3913467782 3913467782 IN IP4 198.18.1.21",
  "s=MicroSIP",
  "c=IN IP4 198.18.1.21",
  "t=0 0",
  "m=audio 4000 RTP/AVP 8 0 101",
  "a=rtpmap:8 PCMA/8000",
  "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:101 telephone-event/8000",
  "a=fmtp:101 0-16",
  "a=sendrecv",
  "",
].join("\r\n");

/** MicroSIP 3.21 INVITE to an outside number, with SDP. */
export const MICROSIP_INVITE = msg(
  [
    "INVITE sip:0312345678@198.18.0.1 SIP/2.0",
    "Via: SIP/2.0/UDP 198.18.1.21:5060;rport;branch=z9hG4bKPj7e9d2c5a6b4c4f2e9a1b",
    "Max-Forwards: 70",
    'From: "Kitchen" <sip:802@198.18.0.1>;tag=5b1c2f0d9c8e4a7b',
    "To: <sip:0312345678@198.18.0.1>",
    'Contact: "Kitchen" <sip:802@198.18.1.21:5060;ob>',
    "Call-ID: 2f6f4d2b8a1e4c3d9f0e7a6b5c4d3e2f",
    "CSeq: 20211 INVITE",
    "Route: <sip:198.18.0.1;lr>",
    "Allow: PRACK, INVITE, ACK, BYE, CANCEL, UPDATE, INFO, SUBSCRIBE, NOTIFY, REFER, MESSAGE, OPTIONS",
    "Supported: replaces, 100rel, timer, norefersub",
    "Session-Expires: 1800",
    "Min-SE: 90",
    "User-Agent: MicroSIP/3.21.3",
    "Content-Type: application/sdp",
    "Content-Length:   {CL}",
  ],
  MICROSIP_SDP,
);

const NGN_SDP = [
  "v=0",
  "o=- 1718000123 1718000123 IN IP4 198.19.0.10",
  "s=-",
  "c=IN IP4 198.19.0.10",
  "t=0 0",
  "m=audio 30000 RTP/AVP 0",
  "a=rtpmap:0 PCMU/8000",
  "a=ptime:20",
  "",
].join("\r\n");

/** An incoming NGN-style INVITE: compact names, Record-Route, P-Asserted-Identity folded. */
export const NGN_INVITE = msg(
  [
    "INVITE sip:0312345678@198.18.0.2:5060 SIP/2.0",
    "v: SIP/2.0/UDP 198.19.0.10:5060;branch=z9hG4bK0a1b2c3d4e5f-ngn",
    "Record-Route: <sip:198.19.0.10:5060;lr>",
    "Max-Forwards: 69",
    "f: <sip:0398765432@ntt-east.ne.jp>;tag=ngn-0011aa",
    "t: <sip:0312345678@ntt-east.ne.jp>",
    "i: 0011aabbccdd@198.19.0.10",
    "CSeq: 1 INVITE",
    "m: <sip:198.19.0.10:5060>",
    "P-Asserted-Identity: <sip:0398765432@ntt-east.ne.jp>,",
    " <tel:0398765432>",
    "P-Called-Party-ID: <sip:0312345678@ntt-east.ne.jp;isub=1>",
    "k: 100rel,timer",
    "x: 300;refresher=uac",
    "Min-SE: 300",
    "Allow: INVITE,ACK,BYE,CANCEL,PRACK,UPDATE",
    "c: application/sdp",
    "l: {CL}",
  ],
  NGN_SDP,
);

/** The NGN's 200 to a REGISTER, compact names plus the association headers. */
export const NGN_REGISTER_200 = msg([
  "SIP/2.0 200 OK",
  "v: SIP/2.0/UDP 198.18.0.2:5060;branch=z9hG4bKabc123",
  "f: <sip:0312345678@ntt-east.ne.jp>;tag=aa11",
  "t: <sip:0312345678@ntt-east.ne.jp>;tag=ngn-77",
  "i: reg-1@198.18.0.2",
  "CSeq: 2 REGISTER",
  "m: <sip:0312345678@198.18.0.2:5060>;expires=3600",
  "P-Associated-URI: <sip:0312345679@ntt-east.ne.jp>, <tel:0312345679>",
  "Service-Route: <sip:198.19.0.10:5060;lr>",
  "l: 0",
]);

export const REAL_MESSAGES: Record<string, Buffer> = {
  "Linphone REGISTER with digest": LINPHONE_REGISTER,
  "MicroSIP INVITE with SDP": MICROSIP_INVITE,
  "NGN INVITE, compact headers": NGN_INVITE,
  "NGN 200 to REGISTER": NGN_REGISTER_200,
};
