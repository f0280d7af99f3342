/**
 * RTP packets in and out (RFC 3550 §5.1), for the answering machine's own endpoint. Every
 * datagram is hostile: parseRtp() checks each length field against the bytes actually there
 * before anything is read past the fixed header, and answers null rather than throwing.
 */

/** The fields the recorder uses; `payload` is a view into the datagram, not a copy. */
export interface RtpPacket {
  payloadType: number;
  marker: boolean;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

const FIXED_HEADER = 12;

/**
 * The packet, or null when it is not well-formed RTP: version other than 2 (§5.1), a CSRC list
 * (4 bytes × CC) or header extension (§5.3.1: 4-byte header + length × 4) running past the end,
 * or padding (§5.1 P bit: the last octet counts the padding, itself included) of zero or more
 * than what follows the header.
 */
export function parseRtp(buf: Buffer): RtpPacket | null {
  if (buf.length < FIXED_HEADER) return null;
  const b0 = buf[0]!;
  if (b0 >> 6 !== 2) return null;
  const padding = (b0 & 0x20) !== 0;
  const extension = (b0 & 0x10) !== 0;
  const cc = b0 & 0x0f;
  let offset = FIXED_HEADER + cc * 4;
  if (offset > buf.length) return null;
  if (extension) {
    if (offset + 4 > buf.length) return null;
    const words = buf.readUInt16BE(offset + 2);
    offset += 4 + words * 4;
    if (offset > buf.length) return null;
  }
  let end = buf.length;
  if (padding) {
    const pad = buf[buf.length - 1]!;
    if (pad === 0 || pad > end - offset) return null;
    end -= pad;
  }
  const b1 = buf[1]!;
  return {
    payloadType: b1 & 0x7f,
    marker: (b1 & 0x80) !== 0,
    sequence: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(offset, end),
  };
}

/** A fresh packet with the 12-byte fixed header (V=2, no padding, extension or CSRC) and the payload. */
export function buildRtp(h: { payloadType: number; marker: boolean; sequence: number; timestamp: number; ssrc: number }, payload: Uint8Array): Buffer {
  const pkt = Buffer.allocUnsafe(FIXED_HEADER + payload.length);
  pkt[0] = 0x80;
  pkt[1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
  pkt.writeUInt16BE(h.sequence & 0xffff, 2);
  pkt.writeUInt32BE(h.timestamp >>> 0, 4);
  pkt.writeUInt32BE(h.ssrc >>> 0, 8);
  pkt.set(payload, FIXED_HEADER);
  return pkt;
}

/** A telephone-event payload (RFC 4733 §2.3): event, E bit, volume, duration. */
export interface TelephoneEvent {
  event: number;
  end: boolean;
  volume: number;
  duration: number;
}

/** The first event of a telephone-event payload, or null when it is shorter than the 4 octets of §2.3. */
export function parseTelephoneEvent(payload: Buffer): TelephoneEvent | null {
  if (payload.length < 4) return null;
  return { event: payload[0]!, end: (payload[1]! & 0x80) !== 0, volume: payload[1]! & 0x3f, duration: payload.readUInt16BE(2) };
}
