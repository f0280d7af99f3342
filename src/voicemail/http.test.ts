import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { startProvisioningServer } from "../provision/http-server.js";
import { ProvisioningTokens } from "../provision/tokens.js";
import { httpRequest } from "../../test/support/http-get.js";
import { capturingLogger, tone } from "../../test/support/voicemail/audio.js";
import { byteRange, messageUrlPath, tokenMatches, voicemailRoute } from "./http.js";
import { VoicemailStore } from "./store.js";
import { wavefile } from "./deps.js";

let stateDir: string;
let servers: Server[] = [];
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "hgw-vmhttp-"));
});
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
  await rm(stateDir, { recursive: true, force: true });
});

async function rig(lines?: Record<string, unknown>[]) {
  const clock = new ManualClock();
  const log = lines ? capturingLogger(lines) : silentLogger();
  const store = new VoicemailStore({ stateDir, log });
  servers = await startProvisioningServer({ addresses: ["127.0.0.1"], port: 0, tokens: new ProvisioningTokens(clock), log, clock, routes: [voicemailRoute({ store, log, clock })] });
  return { store, port: (servers[0]!.address() as { port: number }).port };
}

describe("voicemail HTTP: GET /voicemail/<id>.wav?token=…", () => {
  it("serves the WAV with the right token (audio/wav, the same samples) and marks the message heard", async () => {
    const { store, port } = await rig();
    const samples = tone(440, 8000);
    const msg = await store.save({ from: "0312345678", startedAt: Date.now(), samples });
    const res = await httpRequest(port, messageUrlPath(msg));
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("audio/wav");
    expect(res.headers["cache-control"]).toBe("private, no-store");
    expect(Number(res.headers["content-length"])).toBe(res.body.length);
    const wav = new wavefile.WaveFile(res.body);
    expect(Array.from(wav.getSamples(false, Int16Array) as unknown as Int16Array)).toEqual(Array.from(samples));
    expect((await store.get(msg.id))?.heard).toBe(true);
    expect(await store.unheardCount()).toBe(0);
  });

  it("HEAD answers the headers without marking heard", async () => {
    const { store, port } = await rig();
    const msg = await store.save({ from: "1", startedAt: Date.now(), samples: new Int16Array(800) });
    const res = await httpRequest(port, messageUrlPath(msg), "HEAD");
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(0);
    expect((await store.get(msg.id))?.heard).toBe(false);
  });

  it("a wrong, missing or another message's token, an unknown id, a bad path or method: the same 404, nothing marked, no token logged", async () => {
    const lines: Record<string, unknown>[] = [];
    const { store, port } = await rig(lines);
    const a = await store.save({ from: "1", startedAt: Date.now(), samples: new Int16Array(800) });
    const b = await store.save({ from: "2", startedAt: Date.now(), samples: new Int16Array(800) });
    const wrong = a.token.slice(0, -1) + (a.token.endsWith("A") ? "B" : "A");
    const paths = [
      `/voicemail/${a.id}.wav?token=${wrong}`,
      `/voicemail/${a.id}.wav`,
      `/voicemail/${a.id}.wav?token=`,
      `/voicemail/${a.id}.wav?token=${b.token}`,
      `/voicemail/${a.id}.wav?token=${a.token}x`,
      `/voicemail/20990101T000000000Z-00000000.wav?token=${a.token}`,
      `/voicemail/${a.id}?token=${a.token}`,
      `/voicemail/../index.json?token=${a.token}`,
      `/voicemail/%2e%2e%2findex.json?token=${a.token}`,
      `/voicemail/`,
    ];
    for (const p of paths) {
      const res = await httpRequest(port, p);
      expect([p, res.status, res.body.toString()]).toEqual([p, 404, "not found\n"]);
    }
    expect((await httpRequest(port, messageUrlPath(a), "POST")).status).toBe(404);
    expect(await store.unheardCount()).toBe(2);
    const logged = JSON.stringify(lines);
    expect(logged).not.toContain(a.token);
    expect(logged).not.toContain(b.token);
    expect(lines.some((l) => l.msg === "voicemail fetch refused")).toBe(true);
  });

  it("a message whose file vanished is a 404, not a crash", async () => {
    const { store, port } = await rig();
    const a = await store.save({ from: "1", startedAt: Date.now(), samples: new Int16Array(800) });
    await rm(join(store.dir, a.file));
    expect((await httpRequest(port, messageUrlPath(a))).status).toBe(404);
  });

  it("byte ranges (media players ask for them): 206 with Content-Range, 416 past the end", async () => {
    const { store, port } = await rig();
    const msg = await store.save({ from: "1", startedAt: Date.now(), samples: tone(440, 800) });
    const whole = await store.read(msg.id);
    const part = await httpRequest(port, messageUrlPath(msg), "GET", { range: "bytes=0-1" });
    expect(part.status).toBe(206);
    expect(part.headers["content-range"]).toBe(`bytes 0-1/${whole!.length}`);
    expect(part.body.toString()).toBe("RI");
    const tail = await httpRequest(port, messageUrlPath(msg), "GET", { range: "bytes=-10" });
    expect(tail.body.equals(whole!.subarray(-10))).toBe(true);
    expect((await httpRequest(port, messageUrlPath(msg), "GET", { range: `bytes=${whole!.length}-` })).status).toBe(416);
    // A wrong token with a range is the same 404.
    expect((await httpRequest(port, `/voicemail/${msg.id}.wav?token=x`, "GET", { range: "bytes=0-1" })).status).toBe(404);
  });

  it("byteRange parses RFC 9110 single ranges and ignores the rest", () => {
    expect(byteRange(undefined, 100)).toBeUndefined();
    expect(byteRange("bytes=0-", 100)).toEqual({ start: 0, end: 99 });
    expect(byteRange("bytes=10-19", 100)).toEqual({ start: 10, end: 19 });
    expect(byteRange("bytes=90-500", 100)).toEqual({ start: 90, end: 99 });
    expect(byteRange("bytes=-30", 100)).toEqual({ start: 70, end: 99 });
    expect(byteRange("bytes=-300", 100)).toEqual({ start: 0, end: 99 });
    expect(byteRange("bytes=100-", 100)).toBe("unsatisfiable");
    expect(byteRange("bytes=-0", 100)).toBe("unsatisfiable");
    expect(byteRange("bytes=20-10", 100)).toBeUndefined();
    expect(byteRange("bytes=0-1,5-6", 100)).toBeUndefined();
    expect(byteRange("items=0-1", 100)).toBeUndefined();
    expect(byteRange("bytes=-", 100)).toBeUndefined();
  });

  it("tokenMatches: equal strings only, whatever the lengths", () => {
    expect(tokenMatches("abc", "abc")).toBe(true);
    expect(tokenMatches("abd", "abc")).toBe(false);
    expect(tokenMatches("ab", "abc")).toBe(false);
    expect(tokenMatches("", "abc")).toBe(false);
    expect(tokenMatches("abcd", "abc")).toBe(false);
  });
});
