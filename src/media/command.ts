/**
 * `hikari-gw relay --sessions N [--listen ADDR] [--offload auto|nftables|none]`: the relay's
 * benchmark mode (offload as `media.offload`, default auto).
 * Opens N sessions with no SDP (each side latches the first source that sends to it, see
 * latch.ts), prints their port pairs as ONE JSON line on stdout, `{"sessions":[{"a":PORT,
 * "b":PORT},…]}`, and forwards until SIGTERM/SIGINT, so any load tool drives the real code.
 */
import type { Logger } from "../log.js";
import { MediaRelay, type OffloadMode } from "./relay.js";

export const OFFLOAD_MODES: readonly OffloadMode[] = ["auto", "nftables", "none"];

export interface RelayCommandOptions {
  sessions: number;
  listen: string;
  offload: OffloadMode;
  portMin?: number;
  portMax?: number;
  log: Logger;
}

export async function relayCommand(opts: RelayCommandOptions): Promise<number> {
  if (!OFFLOAD_MODES.includes(opts.offload)) {
    opts.log.error({ offload: opts.offload }, "--offload must be auto, nftables or none");
    return 2;
  }
  if (!Number.isInteger(opts.sessions) || opts.sessions < 1) {
    opts.log.error({ sessions: opts.sessions }, "--sessions must be a positive integer");
    return 2;
  }
  const relay = await MediaRelay.create({
    bindAddress: opts.listen,
    portMin: opts.portMin ?? 50000,
    portMax: opts.portMax ?? 59999,
    log: opts.log,
    offload: opts.offload,
    // Load tools may pause; a benchmark session never times out on its own.
    mediaTimeoutMs: 24 * 3600_000,
  });
  const sessions: { a: number; b: number }[] = [];
  try {
    for (let i = 0; i < opts.sessions; i++) {
      const s = await relay.allocate(`bench-${i}`);
      sessions.push({ a: s.a.rtpPort, b: s.b.rtpPort });
    }
  } catch (err) {
    opts.log.error({ err: (err as Error).message, opened: sessions.length }, "could not open the sessions");
    await relay.close();
    return 1;
  }
  process.stdout.write(JSON.stringify({ sessions }) + "\n");
  opts.log.info({ sessions: sessions.length, offload: relay.offloadName }, "relay benchmark mode: forwarding until SIGTERM");
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      resolve();
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  await relay.close();
  return 0;
}
