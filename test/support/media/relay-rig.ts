/**
 * Tests only (kept out of the build): a relay on the in-memory UDP network with a ManualClock,
 * two phones, and a scriptable offload whose add/remove can be held open to test races.
 */
import { ManualClock } from "../../../src/clock.js";
import { silentLogger, type Logger } from "../../../src/log.js";
import { FakeUdpNetwork, type FakeUdpSocket } from "./fake-udp.js";
import type { MediaOffload, OffloadFlow } from "../../../src/media/offload.js";
import { MediaRelay } from "../../../src/media/relay.js";

export const GW = "198.18.0.1";
export const CALLER = "198.18.0.10";
export const CALLEE = "198.18.1.20";

export function rtp(seq: number, ts = seq * 160): Buffer {
  const b = Buffer.alloc(172);
  b[0] = 0x80;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(0xabcdef01, 8);
  return b;
}

/** Sequence numbers a phone received, in order. */
export function seqs(phone: FakeUdpSocket): number[] {
  return phone.received.map((r) => r.msg.readUInt16BE(2));
}

/**
 * An offload that records what is in the "kernel" by key. `hold` makes the next add or remove
 * wait until `finish()` is called, so a test can act while it is in flight.
 */
export class ScriptedOffload implements MediaOffload {
  readonly name = "scripted";
  readonly installed = new Map<number, OffloadFlow[]>();
  readonly calls: string[] = [];
  readonly kernel = new Map<number, number>();
  hold: "add" | "remove" | null = null;
  private release: (() => void) | null = null;

  async add(key: number, flows: OffloadFlow[]): Promise<boolean> {
    this.calls.push(`add ${key} ${flows.map((f) => `${f.inPort}<${f.src.address}:${f.src.port}>${f.dst.address}:${f.dst.port}`).join(" ")}`);
    await this.maybeHold("add");
    this.installed.set(key, flows);
    return true;
  }

  async remove(key: number, reason: string): Promise<void> {
    this.calls.push(`remove ${key} ${reason}`);
    await this.maybeHold("remove");
    this.installed.delete(key);
  }

  async packets(): Promise<Map<number, number>> {
    return new Map(this.kernel);
  }

  async close(): Promise<void> {
    this.installed.clear();
  }

  /** Lets the held add or remove finish. */
  finish(): void {
    const r = this.release;
    this.release = null;
    r?.();
  }

  get holding(): boolean {
    return this.release !== null;
  }

  private async maybeHold(op: "add" | "remove"): Promise<void> {
    if (this.hold !== op) return;
    this.hold = null;
    await new Promise<void>((r) => (this.release = r));
  }
}

/** A few microtask turns: promise chains move on without waiting for a held offload op. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

export async function relayRig(opts: { timeoutMs?: number; offload?: MediaOffload; portMax?: number; connect?: boolean; log?: Logger } = {}) {
  const net = new FakeUdpNetwork();
  const clock = new ManualClock(1_000_000);
  /** The relay's high-resolution clock (jitter), set by the test. */
  let hr = 0;
  const relay = await MediaRelay.create({
    bindAddress: GW,
    portMin: 50000,
    portMax: opts.portMax ?? 50099,
    log: opts.log ?? silentLogger(),
    clock,
    mediaTimeoutMs: opts.timeoutMs ?? 60_000,
    bindSocket: net.bind,
    hrNow: () => hr,
    offloadImpl: opts.offload,
    connectLatched: opts.connect ?? false,
  });
  const phone = (address: string, port: number): Promise<FakeUdpSocket> => net.bind(address, port);
  const caller = await phone(CALLER, 4000);
  const callee = await phone(CALLEE, 6000);
  /** Lets connect() callbacks and offload work settle (not while the offload holds an op). */
  const settle = async (): Promise<void> => {
    await flush();
    await relay.idle();
  };
  return { net, clock, relay, caller, callee, phone, settle, flush, setHr: (t: number) => (hr = t) };
}
