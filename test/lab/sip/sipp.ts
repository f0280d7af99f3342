/**
 * Runs one SIPp process inside a lab host with its message trace on, and hands back the
 * messages it saw (see trace.ts). Every run is bounded by SIPp's own -timeout and by a kill
 * timer here, so a missing reply can never hang the suite.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import type { Lab } from "../netns.js";
import { readTrace, type TracedMessage } from "./trace.js";

export const SCENARIOS = fileURLToPath(new URL("./scenarios/", import.meta.url));

export interface SippRun {
  /** scenario file name in scenarios/, e.g. "uac-call.xml" */
  scenario: string;
  host: string;
  localAddr: string;
  remote: string;
  /** injection file lines after SEQUENTIAL: field0;field1;... */
  inf?: string[];
  /** -s (the user part in Contact for the UAS scenarios) */
  service?: string;
  /** -d: SIPp's default pause, ms */
  pauseMs?: number;
  /** -key name value */
  keys?: Record<string, string>;
  /** -auth_uri (without "sip:"): the digest uri; RFC 3261 §22.4 wants the Request-URI */
  authUri?: string;
  /** number of calls (-m), default 1 */
  calls?: number;
  timeoutS?: number;
  /** extra SIPp arguments (e.g. ["-rtp_echo", "-mp", "6000"]) */
  extra?: string[];
  /** working directory for traces and input files */
  dir: string;
  /** a short name for the trace files */
  name: string;
}

export interface SippResult {
  code: number | null;
  messages: TracedMessage[];
  /** SIPp's stdout/stderr tail and error log, for failure messages */
  output: string;
}

export interface SippHandle {
  child: ChildProcess;
  done: Promise<SippResult>;
}

export function startSipp(lab: Lab, r: SippRun): SippHandle {
  const msgFile = join(r.dir, `${r.name}.messages.log`);
  const errFile = join(r.dir, `${r.name}.errors.log`);
  const args = [r.remote, "-sf", join(SCENARIOS, r.scenario), "-i", r.localAddr, "-p", "5060", "-m", String(r.calls ?? 1)];
  args.push("-timeout", `${r.timeoutS ?? 20}s`, "-timeout_error", "-nostdin", "-trace_msg", "-message_file", msgFile, "-trace_err", "-error_file", errFile);
  if (r.inf) {
    const inf = join(r.dir, `${r.name}.csv`);
    writeFileSync(inf, ["SEQUENTIAL", ...r.inf, ""].join("\n"));
    args.push("-inf", inf);
  }
  if (r.service) args.push("-s", r.service);
  if (r.pauseMs !== undefined) args.push("-d", String(r.pauseMs));
  if (r.authUri) args.push("-auth_uri", r.authUri);
  for (const [k, v] of Object.entries(r.keys ?? {})) args.push("-key", k, v);
  args.push(...(r.extra ?? []));
  const child = lab.spawn(r.host, "sipp", args, { cwd: r.dir, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const hardStop = setTimeout(() => child.kill("SIGKILL"), ((r.timeoutS ?? 20) + 10) * 1000);
  const done = new Promise<SippResult>((resolve) => {
    child.once("exit", (code) => {
      clearTimeout(hardStop);
      const errors = existsSync(errFile) ? readFileSync(errFile, "utf8").slice(-3000) : "";
      resolve({ code, messages: readTrace(msgFile), output: `${output}\n${errors}`.trim() });
    });
  });
  return { child, done };
}

export function runSipp(lab: Lab, r: SippRun): Promise<SippResult> {
  return startSipp(lab, r).done;
}

/** The injection line for a phone: user; [authentication ...]; number to dial. */
export function credentials(number: string, password: string, dial = ""): string {
  return `${number};[authentication username=${number} password=${password}];${dial}`;
}
