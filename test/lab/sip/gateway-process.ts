/**
 * Starts the built gateway (`node dist/cli.js run --config FILE`) inside the lab's gateway
 * namespace with a config written to a temp file, keeps its JSON log lines, and waits until its
 * SIP socket is bound.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Lab } from "../netns.js";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const CLI = join(REPO, "dist", "cli.js");

export interface GatewayConfigInput {
  listen: string;
  port: number;
  extensions: { number: string; password: string; name: string }[];
  ringTimeoutS: number;
  stateDir: string;
  rtpPorts: string;
  /** dialplan regex for extensions, default ^80[1-9]$ */
  extensionMatch?: string;
  logLevel?: string;
  /** media.timeout_s (the gateway's default when absent). */
  mediaTimeoutS?: number;
  /** media.offload (the gateway's default, auto, when absent). */
  offload?: "auto" | "none" | "nftables";
  /** The `mqtt:` flow mapping, default `{ server: none }`. */
  mqtt?: string;
  /** lan.advertise */
  advertise?: string;
  /** pbx.max_calls / pbx.max_calls_per_extension (the gateway's defaults when absent). */
  pbxLimits?: { maxCalls: number; maxCallsPerExtension: number };
  /** YAML appended as is (e.g. `vpn:`, `phonebook:`, `blocklist:`). */
  extraYaml?: string;
}

export function gatewayConfigYaml(c: GatewayConfigInput): string {
  const ext = c.extensions.map((e) => `  - { number: "${e.number}", password: "${e.password}", name: ${e.name} }`).join("\n");
  return `wan: { interface: none }
trunk: { enabled: false }
lan: { listen: ${c.listen}, port: ${c.port}${c.advertise ? `, advertise: ${c.advertise}` : ""} }
extensions:
${ext}
inbound: { ring: ["${c.extensions[0]?.number ?? "801"}"] }
dialplan:
  - { match: "${c.extensionMatch ?? "^80[1-9]$"}", to: extension }
  - { match: "^0[0-9]+$", to: trunk }
pbx: { ring_timeout_s: ${c.ringTimeoutS}${c.pbxLimits ? `, max_calls: ${c.pbxLimits.maxCalls}, max_calls_per_extension: ${c.pbxLimits.maxCallsPerExtension}` : ""} }
media: { rtp_ports: "${c.rtpPorts}"${c.mediaTimeoutS === undefined ? "" : `, timeout_s: ${c.mediaTimeoutS}`}${c.offload === undefined ? "" : `, offload: ${c.offload}`} }
mqtt: ${c.mqtt ?? "{ server: none }"}
state_dir: ${c.stateDir}
log: { level: ${c.logLevel ?? "info"}, sip_messages: false }
${c.extraYaml ?? ""}`;
}

export interface GatewayProcess {
  child: ChildProcess;
  /** log lines seen so far (raw JSON strings) */
  lines: string[];
}

/** True when `node dist/cli.js` exists (the suite builds first via npm run test:lab). */
/** dist/cli.js as `npm run build` leaves it: the launcher of the one-file command the box runs. */
export function gatewayBuilt(): boolean {
  if (!existsSync(CLI)) return false;
  // tsc alone writes its own cli.js over the launcher: the labs would test what never ships.
  if (!readFileSync(CLI, "utf8").includes("hikari-gw.cjs")) throw new Error("dist/cli.js is tsc's, not the bundle's launcher: run `npm run build` (not tsc alone)");
  return true;
}

export async function startGateway(lab: Lab, host: string, dir: string, c: GatewayConfigInput): Promise<GatewayProcess> {
  const cfg = join(dir, "gateway.yaml");
  writeFileSync(cfg, gatewayConfigYaml(c));
  const child = lab.spawn(host, process.execPath, [CLI, "run", "--config", cfg, "--log-level", c.logLevel ?? "info"], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let partial = "";
  const onData = (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop() ?? "";
    for (const p of parts) if (p.trim()) lines.push(p);
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  // Ready = its UDP socket is bound (the log format is the lead's to change; the socket is not).
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}:\n${lines.slice(-30).join("\n")}`);
    const ss = lab.exec(host, "ss", ["-Hlun"]);
    if (ss.includes(`${c.listen}:${c.port}`)) break;
    if (Date.now() > deadline) throw new Error(`gateway did not bind ${c.listen}:${c.port} in 15 s:\n${lines.slice(-30).join("\n")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, lines };
}
