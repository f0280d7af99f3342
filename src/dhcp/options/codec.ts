/**
 * DHCP option area codec (RFC 2132 §2; RFC 3396 long options).
 *
 * The option area is a run of code/length/value triples with pad (0) and end (255).
 * An option that occurs more than once is one option split into parts: RFC 3396 §5 says
 * the parts are concatenated in order, which is how servers send an option 125 longer than
 * 255 bytes. Decoding never throws: a truncated option or a length past the end is reported
 * in `problems` and the rest of the area is dropped, because nothing after a bad length can
 * be trusted.
 */

export const OPT_PAD = 0;
export const OPT_END = 255;

/** Options keyed by code, values already concatenated (RFC 3396). Insertion order is kept. */
export type DhcpOptions = Map<number, Buffer>;

/** Parse one option area into `into`, appending repeated codes (RFC 3396 §5). */
export function decodeOptionArea(buf: Buffer, into: DhcpOptions, problems: string[], where = "options"): void {
  let i = 0;
  while (i < buf.length) {
    const code = buf[i]!;
    if (code === OPT_PAD) {
      i += 1;
      continue;
    }
    if (code === OPT_END) return;
    if (i + 1 >= buf.length) {
      problems.push(`${where}: option ${code} truncated before its length`);
      return;
    }
    const len = buf[i + 1]!;
    if (i + 2 + len > buf.length) {
      problems.push(`${where}: option ${code} length ${len} runs past the end (${buf.length - i - 2} left)`);
      return;
    }
    const value = buf.subarray(i + 2, i + 2 + len);
    const prev = into.get(code);
    into.set(code, prev ? Buffer.concat([prev, value]) : Buffer.from(value));
    i += 2 + len;
  }
  // RFC 2131 §3 wants an end option; a missing one is tolerated but noted.
  problems.push(`${where}: no end option`);
}

/**
 * Serialise options. Values over 255 bytes are split into consecutive parts with the same
 * code (RFC 3396 §6). The end option is appended.
 */
export function encodeOptionArea(options: DhcpOptions): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of options) {
    if (code === OPT_PAD || code === OPT_END) continue;
    if (value.length === 0) {
      parts.push(Buffer.from([code, 0]));
      continue;
    }
    for (let off = 0; off < value.length; off += 255) {
      const chunk = value.subarray(off, Math.min(off + 255, value.length));
      parts.push(Buffer.from([code, chunk.length]), chunk);
    }
  }
  parts.push(Buffer.from([OPT_END]));
  return Buffer.concat(parts);
}

/** Read an IPv4 address from 4 bytes at `off`. */
export function ipv4At(buf: Buffer, off = 0): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIpv4(s: string): boolean {
  const m = IPV4_RE.exec(s);
  return m !== null && m.slice(1).every((p) => Number(p) <= 255);
}

/** Four bytes of an IPv4 address; throws on a malformed string (our own values only). */
export function ipv4Bytes(addr: string): Buffer {
  if (!isIpv4(addr)) throw new Error(`not an IPv4 address: ${addr}`);
  return Buffer.from(addr.split(".").map(Number));
}

/** A 32-bit option value (51/58/59), or undefined if the length is wrong. */
export function u32Option(options: DhcpOptions, code: number, problems: string[]): number | undefined {
  const v = options.get(code);
  if (v === undefined) return undefined;
  if (v.length !== 4) {
    problems.push(`option ${code}: length ${v.length}, expected 4`);
    return undefined;
  }
  return v.readUInt32BE(0);
}

/** A list of IPv4 addresses (options 3, 6, 54 …); bad lengths are reported and skipped. */
export function ipv4ListOption(options: DhcpOptions, code: number, problems: string[]): string[] | undefined {
  const v = options.get(code);
  if (v === undefined) return undefined;
  if (v.length === 0 || v.length % 4 !== 0) {
    problems.push(`option ${code}: length ${v.length} is not a positive multiple of 4`);
    return undefined;
  }
  const out: string[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(ipv4At(v, i));
  return out;
}
