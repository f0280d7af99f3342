/**
 * Per-stream RTP receive statistics (RFC 3550 §6.4.1, Appendix A.1/A.3/A.8), kept in one
 * Float64Array per session so the hot path only does arithmetic on preallocated memory.
 * Float64 rather than Uint32: byte counters pass 2^32 within a long call at high rates,
 * and every integer below 2^53 is exact.
 */

/** Field offsets inside one stream's block. */
export const F = {
  rtpPackets: 0,
  rtpBytes: 1,
  rtcpPackets: 2,
  rtcpBytes: 3,
  /** From a source other than the latched peer (RTP and RTCP): media hijack attempts, strays. */
  dropped: 4,
  /** Received, but the other side has no destination yet (no SDP, nothing latched). */
  noDestination: 5,
  /** Forwarded out towards this side's peer (RTP, RTCP). */
  txPackets: 6,
  txBytes: 7,
  txRtcpPackets: 8,
  /** RFC 3550 A.1 sequence state. */
  ssrc: 9,
  baseSeq: 10,
  maxSeq: 11,
  cycles: 12,
  /** Packets counted towards loss (same source, valid sequence); differs from rtpPackets on SSRC change. */
  seqReceived: 13,
  /** -1 until the first packet of an SSRC. */
  lastTransit: 14,
  /** RFC 3550 A.8 jitter, in timestamp units (the /16 filter applied). */
  jitter: 15,
  /** Loss carried over from earlier SSRCs of the same stream. */
  lostBefore: 16,
  txRtcpBytes: 17,
  /**
   * ICMP errors the kernel reported on this side's sockets (RFC 1122 §4.1.3.3): the phone's
   * port closed (ECONNREFUSED) or no route to it, i.e. our sends towards it are going nowhere.
   */
  icmpErrors: 18,
} as const;
export const STREAM_FIELDS = 19;

/** RFC 3550 A.1: more than this many sequence numbers ahead is a jump, not loss. */
const MAX_DROPOUT = 3000;
const RTP_SEQ_MOD = 65536;
/** G.711 and telephone-event run an 8 kHz RTP clock; jitter is converted at this rate. */
export const RTP_CLOCK_HZ = 8000;

export function resetStream(s: Float64Array, o: number): void {
  s.fill(0, o, o + STREAM_FIELDS);
  s[o + F.ssrc] = -1;
  s[o + F.lastTransit] = -1;
}

/** Lost packets so far (RFC 3550 A.3: expected − received), never negative (duplicates). */
export function lostOf(s: Float64Array, o: number): number {
  if (s[o + F.ssrc]! < 0) return s[o + F.lostBefore]!;
  const expected = s[o + F.cycles]! + s[o + F.maxSeq]! - s[o + F.baseSeq]! + 1;
  return s[o + F.lostBefore]! + Math.max(0, expected - s[o + F.seqReceived]!);
}

/**
 * Account one received RTP packet. `arrivalMs` is a monotonic time in milliseconds.
 * Reads the header fields straight from the Buffer: no parse object (docs/design.md "Hot path").
 */
export function recordRtp(s: Float64Array, o: number, pkt: Buffer, arrivalMs: number): void {
  s[o + F.rtpPackets]!++;
  s[o + F.rtpBytes]! += pkt.length;
  // RFC 3550 §5.1: 12-byte fixed header, version 2. Anything else is only counted.
  if (pkt.length < 12 || pkt[0]! >> 6 !== 2) return;
  const seq = (pkt[2]! << 8) | pkt[3]!;
  const ts = pkt.readUInt32BE(4);
  const ssrc = pkt.readUInt32BE(8);
  if (s[o + F.ssrc] !== ssrc) {
    // New source (first packet, or the phone restarted its stream): start A.1 afresh.
    s[o + F.lostBefore] = lostOf(s, o);
    s[o + F.ssrc] = ssrc;
    s[o + F.baseSeq] = seq;
    s[o + F.maxSeq] = seq;
    s[o + F.cycles] = 0;
    s[o + F.seqReceived] = 1;
    s[o + F.lastTransit] = -1;
  } else {
    const udelta = (seq - s[o + F.maxSeq]! + RTP_SEQ_MOD) % RTP_SEQ_MOD;
    if (udelta < MAX_DROPOUT) {
      if (seq < s[o + F.maxSeq]!) s[o + F.cycles]! += RTP_SEQ_MOD; // wrapped
      s[o + F.maxSeq] = seq;
      s[o + F.seqReceived]!++;
    } else if (udelta > RTP_SEQ_MOD - 100) {
      // A.1: late or duplicate packet within the reorder window: received, not a new max.
      s[o + F.seqReceived]!++;
    } else {
      // A.1 "very large jump": the sender restarted its sequence; resync, keep the loss so far.
      s[o + F.lostBefore] = lostOf(s, o);
      s[o + F.baseSeq] = seq;
      s[o + F.maxSeq] = seq;
      s[o + F.cycles] = 0;
      s[o + F.seqReceived] = 1;
    }
  }
  // RFC 3550 A.8: transit = arrival (in timestamp units) − RTP timestamp; J += (|D| − J)/16.
  // Unsigned 32-bit arithmetic on the difference keeps a timestamp wrap from faking a spike.
  const arrivalTs = Math.floor(arrivalMs * (RTP_CLOCK_HZ / 1000)) >>> 0;
  const transit = (arrivalTs - ts) >>> 0;
  const last = s[o + F.lastTransit]!;
  if (last >= 0) {
    let d = (transit - last) | 0; // signed 32-bit difference
    if (d < 0) d = -d;
    s[o + F.jitter]! += (d - s[o + F.jitter]!) / 16;
  }
  s[o + F.lastTransit] = transit;
}

export interface StreamReport {
  /** RTP received from this side's peer. */
  packets: number;
  bytes: number;
  lost: number;
  /** RFC 3550 interarrival jitter, RTP timestamp units. */
  jitter: number;
  /** The same at the 8 kHz clock of G.711, in milliseconds. */
  jitterMs: number;
  rtcpPackets: number;
  rtcpBytes: number;
  dropped: number;
  noDestination: number;
}

export interface SentReport {
  packets: number;
  bytes: number;
  rtcpPackets: number;
  rtcpBytes: number;
  /** ICMP errors about our sends to this side (port unreachable, no route). */
  icmpErrors: number;
}

export function streamReport(s: Float64Array, o: number): { rx: StreamReport; tx: SentReport } {
  const jitter = Math.round(s[o + F.jitter]! * 100) / 100;
  return {
    rx: {
      packets: s[o + F.rtpPackets]!,
      bytes: s[o + F.rtpBytes]!,
      lost: lostOf(s, o),
      jitter,
      jitterMs: Math.round((s[o + F.jitter]! / (RTP_CLOCK_HZ / 1000)) * 100) / 100,
      rtcpPackets: s[o + F.rtcpPackets]!,
      rtcpBytes: s[o + F.rtcpBytes]!,
      dropped: s[o + F.dropped]!,
      noDestination: s[o + F.noDestination]!,
    },
    tx: { packets: s[o + F.txPackets]!, bytes: s[o + F.txBytes]!, rtcpPackets: s[o + F.txRtcpPackets]!, rtcpBytes: s[o + F.txRtcpBytes]!, icmpErrors: s[o + F.icmpErrors]! },
  };
}
