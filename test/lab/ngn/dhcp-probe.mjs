// A minimal DHCP client for the emulator's self-test: one DHCPDISCOVER (RFC 2131 §4.4.1)
// carrying what docs/ngn.md "DHCP" says the home gateway sends (option 55 with 1, 3, 120, 121, 125;
// option 124 enterprise 210 + MAC; option 61 from the MAC), then prints the first OFFER as
// one JSON line: {"yiaddr": "...", "options": {"<code>": "<hex>"}} and exits. Plain JS on
// purpose: it runs inside a namespace with `node`, no build step.
// Usage: node dhcp-probe.mjs <mac> [timeoutMs]
// The interface needs a route for 255.255.255.255 (the self-test adds one; no address).
import dgram from "node:dgram";
import { randomBytes } from "node:crypto";

const mac = Buffer.from((process.argv[2] ?? "02:00:5e:12:04:02").split(":").map((h) => parseInt(h, 16)));
const timeoutMs = Number(process.argv[3] ?? 5000);
const xid = randomBytes(4);

function discover() {
  const fixed = Buffer.alloc(236);
  fixed[0] = 1; // op BOOTREQUEST
  fixed[1] = 1; // htype Ethernet
  fixed[2] = 6; // hlen
  xid.copy(fixed, 4);
  fixed.writeUInt16BE(0x8000, 10); // broadcast flag: we have no address to receive unicast on
  mac.copy(fixed, 28);
  const opts = Buffer.from([
    99, 130, 83, 99, // magic cookie
    53, 1, 1, // DHCPDISCOVER
    61, 7, 1, ...mac,
    55, 5, 1, 3, 120, 121, 125,
    // RFC 3925 §3: enterprise 210, data-len 7, one vendor-class item of length 6 (the MAC)
    124, 12, 0, 0, 0, 210, 7, 6, ...mac,
    255,
  ]);
  return Buffer.concat([fixed, opts]);
}

function parse(msg) {
  const options = {};
  let i = 240;
  while (i < msg.length && msg[i] !== 255) {
    if (msg[i] === 0) { i++; continue; }
    const code = msg[i], len = msg[i + 1];
    const val = msg.subarray(i + 2, i + 2 + len);
    options[code] = options[code] ? options[code] + val.toString("hex") : val.toString("hex");
    i += 2 + len;
  }
  return { op: msg[0], xid: msg.subarray(4, 8).toString("hex"), yiaddr: [...msg.subarray(16, 20)].join("."), options };
}

const sock = dgram.createSocket({ type: "udp4", reuseAddr: true });
const timer = setTimeout(() => {
  process.stderr.write("no OFFER\n");
  sock.close();
  process.exit(2);
}, timeoutMs);
let tries = 0;
let resend;
sock.on("message", (msg) => {
  if (msg.length < 240 || msg[0] !== 2) return;
  const p = parse(msg);
  if (p.xid !== xid.toString("hex")) return;
  clearTimeout(timer);
  clearInterval(resend);
  process.stdout.write(JSON.stringify(p) + "\n");
  sock.close();
});
sock.bind(68, "0.0.0.0", () => {
  sock.setBroadcast(true);
  const send = () => {
    if (tries++ >= 3) return;
    sock.send(discover(), 67, "255.255.255.255");
  };
  send();
  resend = setInterval(send, 1000);
});
