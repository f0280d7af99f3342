/**
 * Domain names in DNS wire form (RFC 1035 §3.1), as options 120 (RFC 3361 §3.1) and the
 * NGN's option 125 sub-options 204/210 carry them. RFC 3361 allows compression pointers
 * (RFC 1035 §4.1.4) inside the option, so they are followed, but only backwards and a
 * bounded number of times: a hostile loop cannot hang the decoder.
 */

const MAX_NAME = 255;
const MAX_POINTERS = 16;

export interface DnsNameRead {
  name: string;
  /** Offset just past the name in the original buffer (after the end byte or the pointer). */
  next: number;
}

/** Read one name at `off`; returns null (with a problem) on anything malformed. */
export function readDnsName(buf: Buffer, off: number, problems: string[]): DnsNameRead | null {
  const labels: string[] = [];
  let pos = off;
  let next = -1;
  let total = 0;
  for (let jumps = 0; ; ) {
    if (pos >= buf.length) {
      problems.push(`dns name at ${off}: runs past the end`);
      return null;
    }
    const len = buf[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) {
        problems.push(`dns name at ${off}: truncated pointer`);
        return null;
      }
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (target >= pos || ++jumps > MAX_POINTERS) {
        problems.push(`dns name at ${off}: bad compression pointer`);
        return null;
      }
      if (next < 0) next = pos + 2;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) {
      problems.push(`dns name at ${off}: reserved label type 0x${len.toString(16)}`);
      return null;
    }
    if (pos + 1 + len > buf.length) {
      problems.push(`dns name at ${off}: label runs past the end`);
      return null;
    }
    total += len + 1;
    if (total > MAX_NAME) {
      problems.push(`dns name at ${off}: longer than ${MAX_NAME} bytes`);
      return null;
    }
    labels.push(labelText(buf.subarray(pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
  return { name: labels.join("."), next };
}

/** Printable label text; other bytes are escaped as \DDD (RFC 4343 §2.1 presentation form). */
function labelText(b: Buffer): string {
  let s = "";
  for (const c of b) s += c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c ? String.fromCharCode(c) : `\\${c.toString().padStart(3, "0")}`;
  return s;
}

/** Read a sequence of names filling the whole buffer (option 120 encoding 0). */
export function readDnsNameList(buf: Buffer, problems: string[]): string[] {
  const names: string[] = [];
  let off = 0;
  for (let guard = 0; off < buf.length && guard < 256; guard++) {
    const r = readDnsName(buf, off, problems);
    if (!r) break;
    names.push(r.name);
    off = r.next;
  }
  return names;
}

/** Encode a dotted name as labels ending in a zero byte (no compression). */
export function encodeDnsName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of name.split(".").filter((l) => l.length > 0)) {
    const b = Buffer.from(label, "ascii");
    if (b.length > 63) throw new Error(`DNS label longer than 63 bytes: ${label}`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}
