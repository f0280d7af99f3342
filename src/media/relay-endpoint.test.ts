import dgram from "node:dgram";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../log.js";
import { MediaRelay } from "./relay.js";

describe("MediaRelay.bindEndpoint (the answering machine's RTP socket)", () => {
  it("binds an even port of the pool on the address asked, keeps it from sessions, and gives it back on release", async () => {
    const relay = await MediaRelay.create({ bindAddress: "127.0.0.1", portMin: 61310, portMax: 61313, log: silentLogger(), offload: "none" });
    try {
      const ep = await relay.bindEndpoint("127.0.0.1");
      expect(ep.port % 2).toBe(0);
      expect(ep.port).toBeGreaterThanOrEqual(61310);
      expect(ep.port).toBeLessThanOrEqual(61312);
      expect(relay.freePairs).toBe(1);
      // It is a working socket on that address.
      const got = new Promise<Buffer>((resolve) => ep.socket.once("message", (m) => resolve(m)));
      const sender = dgram.createSocket("udp4");
      sender.send(Buffer.from("rtp"), ep.port, "127.0.0.1");
      expect((await got).toString()).toBe("rtp");
      sender.close();
      ep.release();
      ep.release(); // idempotent: the pair is not given back twice
      expect(relay.freePairs).toBe(2);
    } finally {
      await relay.close();
    }
  });
});
