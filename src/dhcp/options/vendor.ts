/**
 * Vendor-Identifying options (RFC 3925): 124 V-I Vendor Class (§3) and 125 V-I
 * Vendor-Specific Information (§4). Both are a list of enterprise blocks:
 * enterprise-number (4 bytes), data-len (1), data. In 124 the data is a list of
 * length-prefixed opaque class items; in 125 it is code/length/value sub-options.
 * The NGN uses enterprise 210 (NTT) in both directions (docs/ngn.md "DHCP").
 */

export const OPT_VI_VENDOR_CLASS = 124;
export const OPT_VI_VENDOR_SPECIFIC = 125;

export interface VendorClass {
  enterprise: number;
  items: Buffer[];
}

export interface VendorSubOption {
  code: number;
  data: Buffer;
}

export interface VendorBlock {
  enterprise: number;
  subOptions: VendorSubOption[];
}

/** Split an option into enterprise blocks; bad lengths are reported and the rest skipped. */
function enterpriseBlocks(v: Buffer, code: number, problems: string[]): { enterprise: number; data: Buffer }[] {
  const out: { enterprise: number; data: Buffer }[] = [];
  let i = 0;
  while (i < v.length) {
    if (i + 5 > v.length) {
      problems.push(`option ${code}: enterprise block at ${i} truncated`);
      break;
    }
    const enterprise = v.readUInt32BE(i);
    const len = v[i + 4]!;
    if (i + 5 + len > v.length) {
      problems.push(`option ${code}: enterprise ${enterprise} data-len ${len} runs past the end`);
      break;
    }
    out.push({ enterprise, data: v.subarray(i + 5, i + 5 + len) });
    i += 5 + len;
  }
  return out;
}

export function decodeVendorClass(v: Buffer, problems: string[]): VendorClass[] {
  return enterpriseBlocks(v, OPT_VI_VENDOR_CLASS, problems).map(({ enterprise, data }) => {
    const items: Buffer[] = [];
    let i = 0;
    while (i < data.length) {
      const len = data[i]!;
      if (i + 1 + len > data.length) {
        problems.push(`option 124: enterprise ${enterprise} class item at ${i} runs past its block`);
        break;
      }
      items.push(Buffer.from(data.subarray(i + 1, i + 1 + len)));
      i += 1 + len;
    }
    return { enterprise, items };
  });
}

export function encodeVendorClass(classes: VendorClass[]): Buffer {
  const parts: Buffer[] = [];
  for (const c of classes) {
    const data = Buffer.concat(c.items.flatMap((it) => [Buffer.from([it.length]), it]));
    if (data.length > 255) throw new Error(`option 124: enterprise ${c.enterprise} data over 255 bytes`);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(c.enterprise >>> 0, 0);
    head[4] = data.length;
    parts.push(head, data);
  }
  return Buffer.concat(parts);
}

export function decodeVendorSpecific(v: Buffer, problems: string[]): VendorBlock[] {
  const blocks = new Map<number, VendorBlock>();
  for (const { enterprise, data } of enterpriseBlocks(v, OPT_VI_VENDOR_SPECIFIC, problems)) {
    // §4: the same enterprise may appear more than once; its sub-options join up.
    let block = blocks.get(enterprise);
    if (!block) blocks.set(enterprise, (block = { enterprise, subOptions: [] }));
    let i = 0;
    while (i < data.length) {
      if (i + 2 > data.length) {
        problems.push(`option 125: enterprise ${enterprise} sub-option at ${i} truncated`);
        break;
      }
      const code = data[i]!;
      const len = data[i + 1]!;
      if (i + 2 + len > data.length) {
        problems.push(`option 125: enterprise ${enterprise} sub-option ${code} length ${len} runs past its block`);
        break;
      }
      block.subOptions.push({ code, data: Buffer.from(data.subarray(i + 2, i + 2 + len)) });
      i += 2 + len;
    }
  }
  return [...blocks.values()];
}

export function encodeVendorSpecific(blocks: VendorBlock[]): Buffer {
  const parts: Buffer[] = [];
  for (const b of blocks) {
    const data = Buffer.concat(b.subOptions.flatMap((s) => [Buffer.from([s.code, s.data.length]), s.data]));
    if (data.length > 255) throw new Error(`option 125: enterprise ${b.enterprise} data over 255 bytes`);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(b.enterprise >>> 0, 0);
    head[4] = data.length;
    parts.push(head, data);
  }
  return Buffer.concat(parts);
}
