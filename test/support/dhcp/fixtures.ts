/**
 * Captured-style DHCP fixtures for unit tests: an NGN-like DHCPACK laid out byte by byte
 * as docs/ngn.md "DHCP" describes it (a /30, lease 14400 s, T1 7200 s, T2 10800 s, option 120 IPv4
 * encoding, option 121 routes via the /30 peer, option 125 enterprise 210), plus a
 * fake transport for the client. Not shipped code: imported by *.test.ts only.
 */
import type { DhcpTransport } from "../../../src/dhcp/transport.js";

const hex = (s: string) => s.replace(/\s+|#[^\n]*/g, "");

/** Option area of the NGN-style ACK (after the magic cookie). */
export const NGN_ACK_OPTIONS_HEX = hex(`
  35 01 05                         # 53 message type ACK
  36 04 c6 12 01 01                # 54 server id 198.18.1.1
  33 04 00 00 38 40                # 51 lease 14400
  3a 04 00 00 1c 20                # 58 T1 7200
  3b 04 00 00 2a 30                # 59 T2 10800
  01 04 ff ff ff fc                # 1 mask /30
  03 04 c6 12 01 01                # 3 router
  78 05 01 c6 12 02 05             # 120 enc 1, 198.18.2.5
  79 0f 10 c6 13 c6 12 01 01       # 121 198.19.0.0/16 via 198.18.1.1
        18 c6 12 80 c6 12 01 01    #     198.18.128.0/24 via 198.18.1.1
  7d 47 00 00 00 d2 42             # 125 enterprise 210, data-len 66
        c9 06 02 00 00 00 00 01    #   201 MAC
        ca 0a 30 33 31 32 33 34 35 36 37 38   # 202 "0312345678"
        cb 0a 30 33 31 32 33 34 35 36 37 39   # 203 "0312345679"
        cc 10 08 6e 74 74 2d 65 61 73 74 02 6e 65 02 6a 70 00  # 204 ntt-east.ne.jp
        d2 0e 02 66 77 03 6e 74 74 02 6e 65 02 6a 70 00        # 210 fw.ntt.ne.jp
  ff
`);

/** A whole BOOTREPLY around `options` (hex), for xid and chaddr 02:00:00:00:00:01. */
export function bootReply(optionsHex: string, opts: { xid?: number; yiaddr?: string; mac?: string } = {}): Buffer {
  const b = Buffer.alloc(240);
  b[0] = 2;
  b[1] = 1;
  b[2] = 6;
  b.writeUInt32BE(opts.xid ?? 0x11223344, 4);
  Buffer.from((opts.yiaddr ?? "198.18.1.2").split(".").map(Number)).copy(b, 16);
  Buffer.from((opts.mac ?? "020000000001"), "hex").copy(b, 28);
  b.writeUInt32BE(0x63825363, 236);
  return Buffer.concat([b, Buffer.from(hex(optionsHex), "hex")]);
}

export interface SentPacket {
  payload: Buffer;
  src: string;
  dst: string;
}

/** In-memory transport: records sends, lets the test deliver replies. */
export class FakeTransport implements DhcpTransport {
  readonly sent: SentPacket[] = [];
  localAddress: string | null = null;
  closed = false;
  failUnicast = false;
  private handler: ((p: Buffer, from: string) => void) | null = null;

  async send(payload: Buffer, src: string, dst: string): Promise<void> {
    if (this.failUnicast && dst !== "255.255.255.255") throw new Error("ENETUNREACH");
    this.sent.push({ payload, src, dst });
  }
  onMessage(h: (p: Buffer, from: string) => void): void {
    this.handler = h;
  }
  setLocalAddress(addr: string | null): void {
    this.localAddress = addr;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  deliver(p: Buffer, from = "198.18.1.1"): void {
    this.handler?.(p, from);
  }
}
