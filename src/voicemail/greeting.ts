/**
 * What the caller hears: a greeting, then a beep. The built-in greeting is synthesized here (no
 * file, no download): a three-note rising chime, the sound of an answering machine picking up,
 * a few kilobytes of code rather than a recording. A configured greeting is a WAV file of
 * 8 kHz mono 16-bit PCM or µ-law; anything else is refused with the config key in the message.
 */
import { readFile } from "node:fs/promises";
import { decodeG711 } from "./g711.js";
import { SAMPLE_RATE } from "./types.js";
import { wavefile } from "./deps.js";

/** The config key a greeting error names. */
export const GREETING_KEY = "voicemail.greeting";
/** A greeting longer than this is refused: the caller would hang up before the beep. */
export const MAX_GREETING_S = 60;

/** The chime's notes (C5 E5 G5), each this long, with a gap between: distinct, easy to detect in a lab. */
export const DEFAULT_GREETING_NOTES_HZ = [523.25, 659.25, 783.99] as const;
const NOTE_MS = 280;
const GAP_MS = 70;
const TAIL_MS = 400;

function ms(n: number): number {
  return Math.round((n * SAMPLE_RATE) / 1000);
}

/** Adds a sine at `hz` into `out` from `start`, `len` samples, peak `amp`, with the given envelope. */
function addNote(out: Int16Array, start: number, len: number, hz: number, amp: number, env: (i: number, len: number) => number): void {
  for (let i = 0; i < len && start + i < out.length; i++) {
    const v = out[start + i]! + amp * env(i, len) * Math.sin((2 * Math.PI * hz * i) / SAMPLE_RATE);
    out[start + i] = Math.max(-32768, Math.min(32767, Math.round(v)));
  }
}

/** A quick attack and a soft exponential decay: a bell, not a buzz. */
const bell = (i: number, len: number): number => Math.min(1, i / ms(8)) * Math.exp((-3 * i) / len);
/** Flat with 5 ms ramps, so the beep does not click. */
const flat = (i: number, len: number): number => Math.min(1, i / ms(5), (len - i) / ms(5));

/** The built-in greeting: about 1.5 s, three rising notes and a short pause. */
export function defaultGreeting(): Int16Array {
  const notes = DEFAULT_GREETING_NOTES_HZ.length;
  const out = new Int16Array(notes * ms(NOTE_MS) + (notes - 1) * ms(GAP_MS) + ms(TAIL_MS));
  DEFAULT_GREETING_NOTES_HZ.forEach((hz, n) => addNote(out, n * (ms(NOTE_MS) + ms(GAP_MS)), ms(NOTE_MS), hz, 9000, bell));
  return out;
}

/** The beep before recording: `hz` (1 kHz) for `durationMs` (0.5 s), about −10 dBFS. */
export function beepTone(hz = 1000, durationMs = 500): Int16Array {
  const out = new Int16Array(ms(durationMs));
  addNote(out, 0, out.length, hz, 10000, flat);
  return out;
}

/**
 * A greeting WAV from the config: 8 kHz mono PCM16 or µ-law (format 7), as 8 kHz PCM16.
 * Errors name the key and say what the file is and what it needs to be.
 */
export async function loadGreeting(path: string): Promise<Int16Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new Error(`${GREETING_KEY}: cannot read ${path}: ${(err as Error).message}`);
  }
  return decodeGreeting(bytes, path);
}

export function decodeGreeting(bytes: Uint8Array, path: string): Int16Array {
  const wav = new wavefile.WaveFile();
  try {
    wav.fromBuffer(bytes);
  } catch (err) {
    throw new Error(`${GREETING_KEY}: ${path} is not a WAV file (${(err as Error).message})`);
  }
  const fmt = wav.fmt as { audioFormat: number; numChannels: number; sampleRate: number; bitsPerSample: number };
  const pcm16 = fmt.audioFormat === 1 && fmt.bitsPerSample === 16;
  const mulaw = fmt.audioFormat === 7 && fmt.bitsPerSample === 8;
  if (fmt.numChannels !== 1 || fmt.sampleRate !== SAMPLE_RATE || !(pcm16 || mulaw)) {
    const what = `${fmt.sampleRate} Hz, ${fmt.numChannels} channel(s), ${formatName(fmt.audioFormat)} ${fmt.bitsPerSample}-bit`;
    throw new Error(`${GREETING_KEY}: ${path} is ${what}; it must be 8000 Hz mono 16-bit PCM or µ-law (e.g. sox IN -r 8000 -c 1 -b 16 -e signed-integer OUT.wav)`);
  }
  const raw = (wav.data as { samples: Uint8Array }).samples;
  const samples = mulaw ? decodeG711("PCMU", raw) : new Int16Array(wav.getSamples(false, Int16Array) as unknown as Int16Array);
  if (samples.length === 0) throw new Error(`${GREETING_KEY}: ${path} holds no audio`);
  if (samples.length > MAX_GREETING_S * SAMPLE_RATE) throw new Error(`${GREETING_KEY}: ${path} is ${(samples.length / SAMPLE_RATE).toFixed(1)} s long; at most ${MAX_GREETING_S} s`);
  return samples;
}

function formatName(code: number): string {
  return code === 1 ? "PCM" : code === 3 ? "float" : code === 6 ? "A-law" : code === 7 ? "µ-law" : `format ${code}`;
}
