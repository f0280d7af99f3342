/**
 * `hikari-gw voicemail list | play ID [--out FILE] | delete ID`: the answering machine's messages,
 * read from `<state_dir>/voicemail/` directly (no running gateway needed; the store re-reads its
 * index at every operation, so the gateway and this command see each other's changes). An ID
 * may be shortened to any unique prefix. `play` writes the WAV to FILE, or to stdout when that
 * is not a terminal (`hikari-gw voicemail play ID | aplay`), and marks the message heard.
 */
import { writeFile } from "node:fs/promises";
import type { Logger } from "../log.js";
import { formatDuration } from "./calls.js";
import { VoicemailStore } from "../voicemail/store.js";
import type { VoicemailMessage } from "../voicemail/types.js";

type Out = (s: string) => void;

export interface VoicemailCommandIo {
  out: Out;
  err: Out;
  /** Where `play` without --out writes the WAV bytes. */
  writeBinary: (b: Buffer) => void;
  /** True when stdout is a terminal: `play` then needs --out. */
  stdoutIsTty: boolean;
  log: Logger;
}

const USAGE = "usage: hikari-gw voicemail list [--json] | play ID [--out FILE] | delete ID\n";

export async function voicemailCommand(stateDir: string, args: string[], opts: { out?: string; json?: boolean }, io: VoicemailCommandIo): Promise<number> {
  const store = new VoicemailStore({ stateDir, log: io.log });
  const [sub, id, ...rest] = args;
  if (rest.length > 0 || (sub === "list" && id !== undefined) || ((sub === "play" || sub === "delete") && id === undefined)) {
    io.err(USAGE);
    return 2;
  }
  switch (sub) {
    case "list": {
      const messages = await store.list();
      io.out(opts.json ? JSON.stringify(messages.slice().reverse(), null, 2) + "\n" : formatMessages(messages.slice().reverse()));
      return 0;
    }
    case "play":
    case "delete": {
      const found = await resolveId(store, id!);
      if (typeof found === "string") {
        io.err(`voicemail ${sub}: ${found}\n`);
        return 1;
      }
      if (sub === "delete") {
        await store.delete(found.id);
        io.out(`deleted ${found.id}\n`);
        return 0;
      }
      if (opts.out === undefined && io.stdoutIsTty) {
        io.err("voicemail play: stdout is a terminal; give --out FILE or pipe it (e.g. | aplay)\n");
        return 2;
      }
      const wav = await store.read(found.id);
      if (wav === undefined) {
        io.err(`voicemail play: the audio of ${found.id} is missing or unreadable\n`);
        return 1;
      }
      if (opts.out !== undefined) {
        await writeFile(opts.out, wav);
        io.err(`wrote ${found.id} (${formatDuration(Math.round(found.duration_s))}) to ${opts.out}\n`);
      } else io.writeBinary(wav);
      await store.markHeard(found.id);
      return 0;
    }
    default:
      io.err(USAGE);
      return 2;
  }
}

/** The message an ID or unique ID prefix names, or why there is none. */
async function resolveId(store: VoicemailStore, id: string): Promise<VoicemailMessage | string> {
  const messages = await store.list();
  const exact = messages.find((m) => m.id === id);
  if (exact !== undefined) return exact;
  const matches = id.length > 0 ? messages.filter((m) => m.id.startsWith(id)) : [];
  if (matches.length === 1) return matches[0]!;
  return matches.length === 0 ? `no message ${id}` : `${id} is ambiguous (${matches.length} messages start with it)`;
}

/** The table `voicemail list` prints, newest first. */
export function formatMessages(messages: VoicemailMessage[]): string {
  if (messages.length === 0) return "no messages\n";
  const header = ["ID", "RECEIVED", "FROM", "LENGTH", "NEW"];
  const rows = messages.map((m) => [
    m.id,
    m.started_at.replace("T", " ").replace(/\.\d+Z$/, "Z"),
    m.name ? `${m.name} (${m.from || "withheld"})` : m.from || "withheld",
    formatDuration(Math.round(m.duration_s)),
    m.heard ? "" : "new",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd() + "\n").join("");
}
