/**
 * baresip 1.0.0 as a phone that answers by itself, for inbound trunk calls. The SIP lab's
 * recipe (../sip/baresip.ts: aufile as the microphone, ALSA's null PCM as the speaker) with
 * `answermode=auto` on the account: baresip then answers an incoming INVITE with 200 at once
 * instead of ringing. `-t` quits after the given time, hanging up the call with BYE, which is
 * how the phone side ends a call here. The output is kept live so a test can wait for the
 * registration before the call is placed.
 */
import type { ChildProcess } from "node:child_process";
import type { Lab } from "../netns.js";
import { writeBaresipConfig, type BaresipAccount, type BaresipRun } from "../sip/baresip.js";

export interface BaresipPhone {
  child: ChildProcess;
  /** Everything baresip printed so far. */
  output(): string;
  /** Resolves when baresip has printed a line matching `re` (bounded by timeoutMs). */
  waitFor(re: RegExp, timeoutMs: number): Promise<void>;
  done: Promise<BaresipRun>;
}

export function startAutoAnswerPhone(lab: Lab, host: string, dir: string, a: BaresipAccount, seconds: number, o: { toneSeconds?: number } = {}): BaresipPhone {
  // The shared recipe with auto answer; a call longer than 20 s needs a longer tone (aufile stops at its end).
  writeBaresipConfig(dir, a, { toneSeconds: o.toneSeconds, answermode: "auto" });
  const child = lab.spawn(host, "baresip", ["-f", dir, "-t", String(seconds)], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const hardStop = setTimeout(() => child.kill("SIGKILL"), (seconds + 10) * 1000);
  const done = new Promise<BaresipRun>((resolve) => {
    child.once("exit", (code) => {
      clearTimeout(hardStop);
      resolve({ output, code });
    });
  });
  return {
    child,
    output: () => output,
    async waitFor(re, timeoutMs) {
      const end = Date.now() + timeoutMs;
      while (!re.test(output)) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`baresip: no ${re} within ${timeoutMs} ms\n${output.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    done,
  };
}
