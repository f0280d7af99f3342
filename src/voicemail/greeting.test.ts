import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tone } from "../../test/support/voicemail/audio.js";
import { loadGreeting } from "./greeting.js";
import { wavefile, alawmulaw } from "./deps.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "hgw-greeting-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function wav(name: string, channels: number, rate: number, depth: string, samples: ArrayLike<number> | ArrayLike<number>[]): Promise<string> {
  const w = new wavefile.WaveFile();
  w.fromScratch(channels, rate, depth, samples as never);
  const path = join(dir, name);
  await writeFile(path, w.toBuffer());
  return path;
}

describe("voicemail greeting from the config", () => {
  it("8 kHz mono PCM16 is taken as is", async () => {
    const s = tone(700, 4000);
    expect(Array.from(await loadGreeting(await wav("pcm.wav", 1, 8000, "16", s)))).toEqual(Array.from(s));
  });

  it("8 kHz mono µ-law is decoded to PCM16", async () => {
    const s = tone(700, 4000);
    const ulaw = alawmulaw.mulaw.encode(s);
    const got = await loadGreeting(await wav("ulaw.wav", 1, 8000, "8m", ulaw));
    expect(Array.from(got)).toEqual(Array.from(alawmulaw.mulaw.decode(ulaw)));
  });

  it("anything else is refused naming voicemail.greeting and what the file is", async () => {
    await expect(loadGreeting(await wav("cd.wav", 2, 44100, "16", [new Int16Array(10), new Int16Array(10)]))).rejects.toThrow(/^voicemail\.greeting: .*cd\.wav is 44100 Hz, 2 channel\(s\), PCM 16-bit; it must be 8000 Hz mono 16-bit PCM or µ-law/);
    await expect(loadGreeting(await wav("16k.wav", 1, 16000, "16", new Int16Array(10)))).rejects.toThrow(/^voicemail\.greeting: .*16000 Hz/);
    await expect(loadGreeting(await wav("8bit.wav", 1, 8000, "8", new Uint8Array(10)))).rejects.toThrow(/^voicemail\.greeting: .*PCM 8-bit/);
    await expect(loadGreeting(await wav("alaw.wav", 1, 8000, "8a", new Uint8Array(10)))).rejects.toThrow(/^voicemail\.greeting: .*A-law 8-bit/);
    await expect(loadGreeting(await wav("float.wav", 1, 8000, "32f", new Float32Array(10)))).rejects.toThrow(/^voicemail\.greeting: .*float 32-bit/);
    await writeFile(join(dir, "text.wav"), "hello");
    await expect(loadGreeting(join(dir, "text.wav"))).rejects.toThrow(/^voicemail\.greeting: .*text\.wav is not a WAV file/);
    await expect(loadGreeting(join(dir, "absent.wav"))).rejects.toThrow(/^voicemail\.greeting: cannot read .*absent\.wav: ENOENT/);
    await expect(loadGreeting(await wav("empty.wav", 1, 8000, "16", new Int16Array(0)))).rejects.toThrow(/^voicemail\.greeting: .*holds no audio/);
    await expect(loadGreeting(await wav("long.wav", 1, 8000, "16", new Int16Array(61 * 8000)))).rejects.toThrow(/^voicemail\.greeting: .*61\.0 s long; at most 60 s/);
  });
});
