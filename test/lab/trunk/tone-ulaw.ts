/** `seconds` of a sine at `hz` as G.711 µ-law (ITU-T G.711), what SIPp's rtp_stream plays. */
export function toneUlaw(hz: number, seconds: number): Buffer {
  const out = Buffer.alloc(8000 * seconds);
  for (let i = 0; i < out.length; i++) {
    let s = Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 8000));
    const sign = s < 0 ? 0x80 : 0;
    if (s < 0) s = -s;
    s = Math.min(s, 32635) + 0x84;
    let exp = 7;
    for (let m = 0x4000; (s & m) === 0 && exp > 0; m >>= 1) exp--;
    out[i] = ~(sign | (exp << 4) | ((s >> (exp + 3)) & 0x0f)) & 0xff;
  }
  return out;
}
