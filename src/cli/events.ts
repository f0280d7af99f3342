/**
 * `hikari-gw events`: follows the running gateway's events live over the control socket
 * until interrupted (Ctrl-C) or the gateway stops. One line per event: readable by default,
 * the gateway's JSON with `--json` (for `jq`).
 */
import { followControl, type FollowLine } from "../control.js";
import type { CallEvent, LineState } from "../events.js";

type Out = (s: string) => void;

export async function eventsCommand(stateDir: string, json: boolean, out: Out, err: Out, signal?: AbortSignal): Promise<number> {
  try {
    await followControl(stateDir, (line) => out(json ? JSON.stringify(line) + "\n" : formatEvent(line, new Date())), signal);
    return 0;
  } catch (e) {
    err(`events: ${(e as Error).message}\n`);
    return 1;
  }
}

const party = (number: string, name: string | undefined) => (name ? `${name} (${number})` : number);

/** One readable line: local time, event name, what it says. */
export function formatEvent(line: FollowLine, now: Date): string {
  const time = now.toTimeString().slice(0, 8);
  if ("dropped" in line) return `${time} (${line.dropped} event(s) dropped: this terminal read too slowly)\n`;
  return `${time} ${line.event} ${describe(line.event, line.data)}\n`;
}

function describe(event: string, data: unknown): string {
  if (event === "call") {
    const c = data as CallEvent;
    const parts = [c.type, `${party(c.from, c.from_name)} -> ${party(c.to, c.to_name)}`];
    if (c.extension) parts.push(`ext ${c.extension}`);
    if (c.duration_s !== undefined) parts.push(`${c.duration_s} s`);
    if (c.hangup_by) parts.push(`hung up by ${c.hangup_by}`);
    if (c.reason) parts.push(`(${c.reason})`);
    return parts.join(" ");
  }
  if (event === "line") {
    const l = data as LineState;
    const who = l.caller ? ` ${party(l.caller, l.caller_name)}` : "";
    return `channel ${l.channel} ${l.state}${who}${l.extension ? ` ext ${l.extension}` : ""}`;
  }
  if (event === "calls") return `${(data as unknown[]).length} recent call(s)`;
  return JSON.stringify(data);
}
