/**
 * G.711 (ITU-T G.711 µ-law and A-law) through `alawmulaw`: PCMU is RTP payload type 0, PCMA 8
 * (RFC 3551 §4.5.14, table 4). One byte per sample at 8 kHz either way.
 */
import type { G711Codec } from "./types.js";
import { alawmulaw } from "./deps.js";

export const PT_PCMU = 0;
export const PT_PCMA = 8;

export function payloadTypeOf(codec: G711Codec): number {
  return codec === "PCMA" ? PT_PCMA : PT_PCMU;
}

export function encodeG711(codec: G711Codec, samples: Int16Array): Uint8Array {
  return codec === "PCMA" ? alawmulaw.alaw.encode(samples) : alawmulaw.mulaw.encode(samples);
}

export function decodeG711(codec: G711Codec, bytes: Uint8Array): Int16Array {
  return codec === "PCMA" ? alawmulaw.alaw.decode(bytes) : alawmulaw.mulaw.decode(bytes);
}
