// Real loopback sockets on purpose: what is under test is Node's own UDP handle, no fake can stand in.
import dgram from "node:dgram";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FastSender, disableFastSend, enableFastSend, fastSendEnabled } from "./fast-send.js";
import { DgramRelaySocket } from "./udp-socket.js";

const open: dgram.Socket[] = [];
function bound(): Promise<dgram.Socket> {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    open.push(s);
    s.bind(0, "127.0.0.1", () => resolve(s));
  });
}
function received(s: dgram.Socket, n: number): Promise<{ msgs: string[]; from: number[] }> {
  const msgs: string[] = [];
  const from: number[] = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`got ${msgs.length} of ${n}`)), 2000);
    s.on("message", (m, r) => {
      msgs.push(m.toString());
      from.push(r.port);
      if (msgs.length === n) {
        clearTimeout(t);
        resolve({ msgs, from });
      }
    });
  });
}

beforeEach(() => enableFastSend());
afterEach(() => {
  disableFastSend();
  for (const s of open.splice(0)) s.close();
});

describe("FastSender on this Node", () => {
  it("is available (Node 20 here; the Pi's Node 24 has the same internals)", async () => {
    const s = await bound();
    expect(fastSendEnabled()).toBe(true);
    expect(FastSender.for(s)).not.toBeNull();
  });

  it("sends unconnected to port/ip, reusing its request: every datagram arrives intact, in order", async () => {
    const [tx, rx] = await Promise.all([bound(), bound()]);
    const fast = FastSender.for(tx)!;
    const got = received(rx, 200);
    for (let i = 0; i < 200; i++) expect(fast.send(Buffer.from(`p${i}`), rx.address().port, "127.0.0.1")).toBe(true);
    const { msgs, from } = await got;
    expect(msgs).toEqual(Array.from({ length: 200 }, (_, i) => `p${i}`));
    expect(new Set(from)).toEqual(new Set([tx.address().port]));
    expect(fast.errors).toBe(0);
  });

  it("is off unless enabled: the relay's sockets then use socket.send()", async () => {
    disableFastSend();
    expect(FastSender.for(await bound())).toBeNull();
  });

  it("sends on a connected socket to its peer", async () => {
    const [tx, rx] = await Promise.all([bound(), bound()]);
    await new Promise<void>((r) => tx.connect(rx.address().port, "127.0.0.1", () => r()));
    const sock = new DgramRelaySocket(tx);
    const got = received(rx, 3);
    for (const m of ["a", "b", "c"]) sock.send(Buffer.from(m));
    expect((await got).msgs).toEqual(["a", "b", "c"]);
  });

  it("counts a datagram the kernel refuses instead of throwing (closed handle: EBADF)", async () => {
    const [tx, rx] = await Promise.all([bound(), bound()]);
    const fast = FastSender.for(tx)!;
    open.splice(open.indexOf(tx), 1);
    tx.close();
    expect(fast.send(Buffer.from("x"), rx.address().port, "127.0.0.1")).toBe(true);
    expect(fast.errors).toBe(1);
  });
});
