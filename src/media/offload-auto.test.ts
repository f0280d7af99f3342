import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createRootLogger } from "../log.js";
import { FakeUdpNetwork } from "../../test/support/media/fake-udp.js";
import { MediaRelay } from "./relay.js";

/** A root logger whose JSON lines land in `lines`. */
function capturingLogger(lines: Record<string, unknown>[]) {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return createRootLogger({ level: "debug", destination: sink });
}

describe("media.offload auto", () => {
  it("relays in userspace where the kernel path cannot be had, with one line saying why", async () => {
    const lines: Record<string, unknown>[] = [];
    const net = new FakeUdpNetwork();
    // An IPv6 listen address: the nftables offload is IPv4 only (no nft is run to find out).
    const relay = await MediaRelay.create({ bindAddress: "::1", portMin: 50000, portMax: 50099, log: capturingLogger(lines), offload: "auto", bindSocket: net.bind });
    expect(relay.offloadName).toBe("none");
    const media = lines.filter((l) => String(l.module ?? "").startsWith("media"));
    expect(media).toHaveLength(1);
    expect(media[0]!.msg).toBe("media offload auto: userspace relay");
    expect(String(media[0]!.reason)).toMatch(/IPv4 only/);
    expect(media[0]!.level).toBe("info");
    await relay.close();
  });
});
