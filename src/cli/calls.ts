/**
 * `hikari-gw calls`: the running gateway's recent-calls list (the same records as
 * `<base>/calls` on MQTT), newest first, as a table or as JSON.
 */
import { queryControl } from "../control.js";
import type { CallRecord } from "../gateway-api.js";

type Out = (s: string) => void;

export async function callsCommand(stateDir: string, json: boolean, out: Out, err: Out): Promise<number> {
  const answer = (await queryControl(stateDir, { command: "calls" })) as CallRecord[] | { error?: string };
  if (!Array.isArray(answer)) {
    err(`calls: ${answer.error ?? "unexpected answer from the gateway"}\n`);
    return 1;
  }
  out(json ? JSON.stringify(answer, null, 2) + "\n" : formatCalls(answer));
  return 0;
}

const party = (number: string, name: string | undefined) => (name ? `${name} (${number})` : number);

/** Seconds as m:ss (h:mm:ss past the hour). */
export function formatDuration(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** The table `hikari-gw calls` prints: one row per call, columns padded to their widest cell. */
export function formatCalls(calls: CallRecord[]): string {
  if (calls.length === 0) return "no calls yet\n";
  const header = ["START", "DIRECTION", "FROM", "TO", "EXT", "DURATION", "RESULT"];
  const rows = calls.map((c) => [
    c.start.replace("T", " ").replace(/\.\d+Z$/, "Z"),
    c.direction,
    party(c.from, c.from_name),
    party(c.to, c.to_name),
    c.extension ?? "-",
    formatDuration(c.duration_s),
    c.result,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ") + "\n").join("");
}
