import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../log.js";
import { tone } from "../../test/support/voicemail/audio.js";
import { VoicemailStore } from "../voicemail/store.js";
import { voicemailCommand } from "./voicemail.js";
import { wavefile } from "../voicemail/deps.js";

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "hgw-vmcli-"));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

function io(tty = false) {
  const r = { out: "", err: "", bin: [] as Buffer[] };
  return {
    r,
    io: { out: (s: string) => void (r.out += s), err: (s: string) => void (r.err += s), writeBinary: (b: Buffer) => void r.bin.push(b), stdoutIsTty: tty, log: silentLogger() },
  };
}

describe("hikari-gw voicemail", () => {
  it("list: newest first, caller with name, length, new; --json; an empty box", async () => {
    const t = io();
    expect(await voicemailCommand(stateDir, ["list"], {}, t.io)).toBe(0);
    expect(t.r.out).toBe("no messages\n");
    const store = new VoicemailStore({ stateDir, log: silentLogger() });
    const a = await store.save({ from: "0312345678", name: "Dentist", startedAt: Date.parse("2026-12-06T03:40:00Z"), samples: new Int16Array(8000 * 23) });
    const b = await store.save({ from: "", startedAt: Date.parse("2026-12-06T04:00:00Z"), samples: new Int16Array(8000 * 65) });
    await store.markHeard(a.id);
    const u = io();
    expect(await voicemailCommand(stateDir, ["list"], {}, u.io)).toBe(0);
    expect(u.r.out.split("\n")).toEqual([
      "ID                            RECEIVED              FROM                  LENGTH  NEW",
      `${b.id}  2026-12-06 04:00:00Z  withheld              1:05    new`,
      `${a.id}  2026-12-06 03:40:00Z  Dentist (0312345678)  0:23`,
      "",
    ]);
    const j = io();
    expect(await voicemailCommand(stateDir, ["list"], { json: true }, j.io)).toBe(0);
    expect((JSON.parse(j.r.out) as { id: string }[]).map((m) => m.id)).toEqual([b.id, a.id]);
  });

  it("play writes the WAV to --out or stdout (by unique prefix) and marks it heard; refuses a terminal", async () => {
    const store = new VoicemailStore({ stateDir, log: silentLogger() });
    const samples = tone(440, 4000);
    const a = await store.save({ from: "1", startedAt: Date.parse("2026-12-06T03:40:00Z"), samples });
    const file = join(stateDir, "out.wav");
    const t = io();
    expect(await voicemailCommand(stateDir, ["play", a.id], { out: file }, t.io)).toBe(0);
    const wav = new wavefile.WaveFile(await readFile(file));
    expect(Array.from(wav.getSamples(false, Int16Array) as unknown as Int16Array)).toEqual(Array.from(samples));
    expect((await store.get(a.id))?.heard).toBe(true);
    const s = io();
    expect(await voicemailCommand(stateDir, ["play", a.id.slice(0, 12)], {}, s.io)).toBe(0);
    expect(Buffer.concat(s.r.bin).equals(await readFile(file))).toBe(true);
    const tty = io(true);
    expect(await voicemailCommand(stateDir, ["play", a.id], {}, tty.io)).toBe(2);
    expect(tty.r.err).toMatch(/stdout is a terminal/);
    expect(tty.r.bin).toEqual([]);
  });

  it("delete removes it; unknown or ambiguous ids and bad usage are errors", async () => {
    const store = new VoicemailStore({ stateDir, log: silentLogger() });
    const a = await store.save({ from: "1", startedAt: Date.parse("2026-12-06T03:40:00Z"), samples: new Int16Array(80) });
    await store.save({ from: "2", startedAt: Date.parse("2026-12-06T03:41:00Z"), samples: new Int16Array(80) });
    const amb = io();
    expect(await voicemailCommand(stateDir, ["delete", "20261206T"], {}, amb.io)).toBe(1);
    expect(amb.r.err).toBe("voicemail delete: 20261206T is ambiguous (2 messages start with it)\n");
    const t = io();
    expect(await voicemailCommand(stateDir, ["delete", a.id], {}, t.io)).toBe(0);
    expect(t.r.out).toBe(`deleted ${a.id}\n`);
    expect((await store.list()).map((m) => m.from)).toEqual(["2"]);
    const again = io();
    expect(await voicemailCommand(stateDir, ["delete", a.id], {}, again.io)).toBe(1);
    expect(again.r.err).toBe(`voicemail delete: no message ${a.id}\n`);
    for (const args of [[], ["play"], ["delete"], ["list", "x"], ["frobnicate"], ["play", "a", "b"]]) {
      const u = io();
      expect(await voicemailCommand(stateDir, args, {}, u.io)).toBe(2);
      expect(u.r.err).toMatch(/^usage: hikari-gw voicemail/);
    }
  });
});
