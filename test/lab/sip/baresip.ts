/**
 * baresip (Debian's 1.0.0) as a real softphone, headless: the recipe of README.md as code.
 * No sound card: a WAV file (aufile) is the microphone and ALSA's "null" PCM the speaker.
 * Control is by `-e "/dial N"` (menu commands run at start) and `-t SECONDS` (quit, hanging up
 * with BYE): nothing has to reach into its namespace.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Lab } from "../netns.js";

export interface BaresipAccount {
  number: string;
  password: string;
  registrar: string;
  localAddr: string;
  /** REGISTER interval in seconds; 0 = never register */
  regint?: number;
}

/** 8 kHz mono 16-bit sine, `seconds` long: the call's outgoing audio. */
export function toneWav(seconds: number, hz = 440): Buffer {
  const rate = 8000;
  const n = rate * seconds;
  const b = Buffer.alloc(44 + n * 2);
  b.write("RIFF", 0);
  b.writeUInt32LE(36 + n * 2, 4);
  b.write("WAVEfmt ", 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write("data", 36);
  b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / rate)), 44 + i * 2);
  return b;
}

/** What differs between the labs' baresip phones. */
export interface BaresipOptions {
  /** Length of the tone aufile plays as the microphone (it stops at its end). Default 20 s. */
  toneSeconds?: number;
  toneHz?: number;
  /** Load stdio.so: keys and `/commands` on stdin drive the phone live. */
  stdio?: boolean;
  /** baresip's account answermode (auto: answers an incoming INVITE at once). */
  answermode?: "auto" | "manual";
}

/** Writes config, accounts and the tone into `dir` (baresip -f dir). */
export function writeBaresipConfig(dir: string, a: BaresipAccount, o: BaresipOptions = {}): void {
  mkdirSync(dir, { recursive: true });
  const tone = join(dir, "tone.wav");
  writeFileSync(tone, toneWav(o.toneSeconds ?? 20, o.toneHz));
  const config = [
    "poll_method\tepoll",
    `sip_listen\t${a.localAddr}:5060`,
    "sip_trans_def\tudp",
    `audio_source\taufile,${tone}`,
    "audio_player\talsa,null",
    "audio_alert\talsa,null",
    "ausrc_srate\t8000",
    "ausrc_channels\t1",
    "rtp_ports\t40000-40099",
    "module_path\t/usr/lib/baresip/modules",
    ...(o.stdio ? ["module\tstdio.so"] : []),
    "module\tg711.so",
    "module\taufile.so",
    "module\talsa.so",
    "module_app\taccount.so",
    "module_app\tmenu.so",
    "",
  ].join("\n");
  writeFileSync(join(dir, "config"), config);
  const regint = a.regint ?? 600;
  const answer = o.answermode ? `;answermode=${o.answermode}` : "";
  writeFileSync(join(dir, "accounts"), `<sip:${a.number}@${a.registrar}>;auth_pass=${a.password};regint=${regint};audio_codecs=PCMU${answer}\n`);
  // baresip asks for these on first start otherwise; one instance id per phone.
  writeFileSync(join(dir, "contacts"), "");
  writeFileSync(join(dir, "uuid"), `a6b7c8d9-0000-4000-8000-${a.number.padStart(12, "0").slice(-12)}\n`);
}

export interface BaresipRun {
  output: string;
  code: number | null;
}

/** Runs baresip in `host` for `seconds` (it quits by itself, hanging up), dialling `dial`. */
export function runBaresip(lab: Lab, host: string, dir: string, opts: { dial?: string; seconds: number }): Promise<BaresipRun> {
  const args = ["-f", dir, "-t", String(opts.seconds)];
  if (opts.dial) args.push("-e", `/dial ${opts.dial}`);
  const child = lab.spawn(host, "baresip", args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const hardStop = setTimeout(() => child.kill("SIGKILL"), (opts.seconds + 10) * 1000);
  return new Promise((resolve) => {
    child.once("exit", (code) => {
      clearTimeout(hardStop);
      resolve({ output, code });
    });
  });
}
