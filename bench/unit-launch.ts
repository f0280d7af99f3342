/**
 * How the shipped systemd unit (systemd/hikari-gw.service) launches the gateway: the node flags
 * of its ExecStart= (between `node` and the script) and its Environment= assignments. The
 * benchmarks that report the gateway's memory or rates (bench:pi, bench:idle) launch it with
 * exactly these, read from the unit file, so what they measure and what a Pi runs cannot drift.
 *
 * Only the unit syntax the file uses is understood (systemd.service(5), systemd.exec(5)):
 * ExecStart=node FLAGS… SCRIPT ARGS… with no prefix characters, Environment= with words that
 * may be double-quoted. Anything else (EnvironmentFile=, a quoted or `$`-expanded ExecStart=,
 * a line continuation) is refused, so a unit the parser cannot read fully fails the bench
 * instead of being measured without part of its launch.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const UNIT_FILE = join(dirname(fileURLToPath(import.meta.url)), "..", "systemd", "hikari-gw.service");

export interface UnitLaunch {
  /** Node/V8 flags, in order, e.g. ["--max-semi-space-size=2"]. */
  nodeFlags: string[];
  /** Environment= assignments, in order (a later one for the same name wins, as in systemd). */
  env: Record<string, string>;
  /** One line for a report: the flags and the environment. */
  describe: string;
}

/** Words of an Environment= value: whitespace-separated, a whole word may be "double quoted". */
function envWords(value: string, line: number): string[] {
  return [...value.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => {
    if (m[1] !== undefined) return m[1].replace(/\\(.)/g, "$1");
    if (m[2]!.includes('"')) throw new Error(`unit line ${line}: cannot read Environment=${value}`);
    return m[2]!;
  });
}

export function parseUnitLaunch(text: string): UnitLaunch {
  const env: Record<string, string> = {};
  let exec: string | undefined;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";") || line.startsWith("[")) return;
    if (line.endsWith("\\")) throw new Error(`unit line ${i + 1}: line continuations are not supported here`);
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!m) return;
    const [, key, value] = m as unknown as [string, string, string];
    if (key === "EnvironmentFile") throw new Error(`unit line ${i + 1}: EnvironmentFile= is not supported here (its variables would be missed)`);
    if (key === "Environment") {
      for (const w of envWords(value, i + 1)) {
        const eq = w.indexOf("=");
        if (eq <= 0) throw new Error(`unit line ${i + 1}: "${w}" is not NAME=value`);
        env[w.slice(0, eq)] = w.slice(eq + 1);
      }
    }
    if (key === "ExecStart") {
      if (exec !== undefined) throw new Error(`unit line ${i + 1}: more than one ExecStart=`);
      exec = value;
    }
  });
  if (exec === undefined) throw new Error("unit has no ExecStart=");
  if (/["'$%]/.test(exec) || /^[-@:+!]/.test(exec)) throw new Error(`ExecStart=${exec}: quotes, $, % specifiers and prefixes are not supported here`);
  const words = exec.split(/\s+/).filter(Boolean);
  if (words[0] !== "node") throw new Error(`ExecStart=${exec}: expected "node FLAGS… SCRIPT …"`);
  // Flags are written --name or --name=value, so the first other word is the script.
  const script = words.findIndex((w, i) => i > 0 && !w.startsWith("-"));
  if (script < 0 || !/\.[cm]?js$/.test(words[script]!)) throw new Error(`ExecStart=${exec}: expected node's flags as --name=value, then the script`);
  const nodeFlags = words.slice(1, script);
  const envText = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return { nodeFlags, env, describe: [...envText, "node", ...nodeFlags].join(" ") };
}

/** The shipped unit's launch (systemd/hikari-gw.service). */
export function unitLaunch(file = UNIT_FILE): UnitLaunch {
  return parseUnitLaunch(readFileSync(file, "utf8"));
}
