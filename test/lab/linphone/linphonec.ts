/**
 * Linphone's console client (Debian `linphone-cli`: `linphonec` 5.1, the same liblinphone as
 * the Linphone mobile apps) as a lab phone, driven live over stdin the way a user types.
 *
 * Everything of one phone lives in one temp dir: the rc file (`-c`), HOME (liblinphone puts its
 * call-log database under `$HOME/.local/share/linphone/`) and the tone it plays as microphone.
 *
 * linphonec 5.1 facts this relies on (found in the lab, not in its documentation):
 * - The core stays in `LinphoneGlobalStartup` for ever, silently, when its database directory
 *   (`$HOME/.local/share/linphone`) does not exist: it never registers and never calls, which
 *   looks like "the network is down". So the directory is made first.
 * - A namespace without a route was reported to leave it thinking the network is down. Here
 *   (5.1.65) it registered with an on-link /24 alone, even with the loopback alone, once the
 *   directory existed; the phone's namespace gets a default route via the gateway all the same,
 *   as on a real LAN (liblinphone picks its local address by asking the kernel for a route).
 * - No sound card here: `soundcard use files` makes liblinphone read a WAV (`play FILE`) as the
 *   microphone and drop what it receives; a call then sends RTP all the time (20 ms packets).
 * - A line of digits, `*` and `#` is DTMF: RFC 4733 events when `[sip] use_rfc2833=1`; linphonec
 *   sleeps one second per digit while it sends (commands typed meanwhile wait).
 * - Its readline echoes what is typed, sometimes split over lines ("s\ntatus"): wait for its own
 *   words (e.g. "Call 1 with … connected."), never for a command.
 * - Only codecs listed in the rc as `enabled=0` stay off: every codec it knows and the rc does
 *   not list is added back with its default (opus, speex, G729 on). So every default-on codec is
 *   listed, and `start` checks `codec list` shows PCMU and PCMA alone.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Lab } from "../netns.js";
import { waitForOutput } from "../process-output.js";
import { toneWav } from "../sip/baresip.js";

export interface LinphonecAccount {
  number: string;
  password: string;
  /** The gateway's SIP address (registrar and outbound proxy, UDP 5060). */
  registrar: string;
  /** The gateway's digest realm (pbx.realm, default "hikari-gw"). */
  realm?: string;
}

export interface LinphonecOptions {
  /** The phone's own temp dir (HOME, rc, tone). */
  dir: string;
  /** The account written into the rc; leave out to get it by remote provisioning. */
  account?: LinphonecAccount;
  /** `[misc] config-uri`: liblinphone fetches it at start and applies the XML it gets (remote provisioning). */
  configUri?: string;
  /** DTMF as the rc has it before any provisioning: RFC 4733 events (default) or SIP INFO. */
  dtmf?: "rfc4733" | "sip-info";
  /** Start again on the rc it left (a phone restarted): nothing is rewritten. */
  restart?: boolean;
  /** Default route for the namespace (the pitfall above); usually the gateway's address. */
  defaultRoute: string;
  /** Hard bound on its life: killed (with its process group) after this long whatever happens. */
  maxS: number;
  toneSeconds?: number;
  toneHz?: number;
}

export interface Linphonec {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Where the output ends now: pass to waitFor to look only at what comes after. */
  mark(): number;
  /** The first match of `re` after `from`, or throws after timeoutMs (or when it exited). */
  waitFor(re: RegExp, timeoutMs: number, from?: number): Promise<RegExpExecArray>;
  /** One line typed at its prompt. */
  command(line: string): void;
  /** Types `line` and waits for `re` in what comes after. */
  ask(line: string, re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** `quit`, then SIGKILL to its process group if it has not gone in 3 s. */
  quit(): Promise<void>;
  /** SIGKILL to its process group (a phone dying mid-call). */
  kill(): void;
}

/** liblinphone's default-on codecs besides G.711 (5.1: opus, SILK, speex 16k/8k, G729), listed off; an entry matches on mime, rate and channels. */
const CODECS_OFF: [mime: string, rate: number, channels: number][] = [
  ["opus", 48000, 2],
  ["SILK", 16000, 1],
  ["speex", 16000, 1],
  ["speex", 8000, 1],
  ["G729", 8000, 1],
];

/** The rc file: lab-only settings (sound, ports, no video) and, when given, the account. */
export function linphonercText(o: Pick<LinphonecOptions, "account" | "configUri" | "dtmf">): string {
  const info = o.dtmf === "sip-info";
  const lines = [
    "[sip]",
    "sip_port=5060",
    // 0 = transport off: UDP only, as the gateway listens.
    "sip_tcp_port=0",
    "sip_tls_port=0",
    // RFC 4733 (2833) events for DTMF, or SIP INFO.
    `use_rfc2833=${info ? 0 : 1}`,
    `use_info=${info ? 1 : 0}`,
    "media_encryption=none",
    "inc_timeout=30",
    "",
    "[rtp]",
    "audio_rtp_port=7078",
    "",
    "[video]",
    "enabled=0",
    "capture=0",
    "display=0",
    "",
    "[sound]",
    "echocancellation=0",
    "",
  ];
  if (o.account) {
    const a = o.account;
    lines.push(
      "[proxy_0]",
      `reg_proxy=<sip:${a.registrar}:5060;transport=udp>`,
      `reg_identity=<sip:${a.number}@${a.registrar}>`,
      "reg_expires=600",
      "reg_sendregister=1",
      "publish=0",
      "avpf=0",
      "",
      "[auth_info_0]",
      `username=${a.number}`,
      `userid=${a.number}`,
      `passwd=${a.password}`,
      `realm=${a.realm ?? "hikari-gw"}`,
      "",
      "[sip]",
      "default_proxy=0",
      "",
    );
  }
  if (o.configUri) lines.push("[misc]", `config-uri=${o.configUri}`, "");
  // With an account of its own the phone has G.711 alone; a provisioned one gets the
  // provisioning document's codecs (what a real Linphone app would get).
  if (o.account) {
    const codecs: [string, number, number, number][] = [["PCMU", 8000, 1, 1], ["PCMA", 8000, 1, 1], ...CODECS_OFF.map(([m, r, c]): [string, number, number, number] => [m, r, c, 0])];
    codecs.forEach(([mime, rate, channels, enabled], i) => lines.push(`[audio_codec_${i}]`, `mime=${mime}`, `rate=${rate}`, `channels=${channels}`, `enabled=${enabled}`, ""));
  }
  return lines.join("\n");
}

/**
 * Starts linphonec in `host` (a Lab namespace), waits for its prompt, switches it to sound
 * files and checks its codecs. Registration is the caller's to wait for (`status register`).
 */
export async function startLinphonec(lab: Lab, host: string, o: LinphonecOptions): Promise<Linphonec> {
  mkdirSync(join(o.dir, ".local", "share", "linphone"), { recursive: true });
  const rc = join(o.dir, "linphonerc");
  const tone = join(o.dir, "tone.wav");
  if (!o.restart) {
    writeFileSync(rc, linphonercText(o));
    writeFileSync(tone, toneWav(o.toneSeconds ?? 60, o.toneHz ?? 440));
  }
  lab.exec(host, "ip", ["route", "replace", "default", "via", o.defaultRoute]);

  // detached: its own process group, so kill() reaches whatever it forks too.
  const child = lab.spawn(host, "linphonec", ["-c", rc], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, HOME: o.dir }, cwd: o.dir, detached: true });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  child.stdin?.on("error", () => undefined); // a write after it exited: nothing to do
  const alive = () => child.exitCode === null && child.signalCode === null;
  const kill = () => {
    if (!alive() || child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  };
  const hardStop = setTimeout(kill, o.maxS * 1000);
  child.once("exit", () => clearTimeout(hardStop));

  const phone: Linphonec = {
    child,
    output: () => out,
    mark: () => out.length,
    waitFor: (re, timeoutMs, from = 0) => waitForOutput({ output: () => out, alive, name: `linphonec in ${host}` }, re, timeoutMs, from, 3000),
    command(line) {
      if (alive()) child.stdin?.write(`${line}\n`);
    },
    async ask(line, re, timeoutMs = 5000) {
      const from = out.length;
      phone.command(line);
      return phone.waitFor(re, timeoutMs, from);
    },
    async quit() {
      if (!alive()) return;
      const gone = new Promise<void>((r) => child.once("exit", () => r()));
      phone.command("quit");
      const t = setTimeout(kill, 3000);
      await gone;
      clearTimeout(t);
    },
    kill,
  };
  try {
    await phone.waitFor(/linphonec> /, 10_000);
    await phone.ask("soundcard use files", /Using wav files instead of soundcard\./);
    phone.command(`play ${tone}`);
    if (o.account) {
      const list = (await phone.ask("codec list", /((?:^ ?\d+: .*\n)+)linphonec> /m))[1]!;
      const enabled = list.split("\n").filter((l) => / enabled$/.test(l)).map((l) => l.replace(/^ ?\d+: /, "").replace(/ enabled$/, ""));
      if (enabled.join(",") !== "PCMU (8000),PCMA (8000)") throw new Error(`linphonec in ${host}: codecs on besides G.711: ${enabled.join(", ")}\n${list}`);
    }
  } catch (err) {
    kill();
    throw err;
  }
  return phone;
}
