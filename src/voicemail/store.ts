/**
 * The message store: one WAV per message (8 kHz mono PCM16, written with `wavefile`) and a JSON
 * index in `<state_dir>/voicemail/`. The index is read from disk at every operation and written
 * atomically (temp file + rename), never cached across operations: the CLI (`hikari-gw
 * voicemail delete`) edits the same directory while the gateway runs, and neither may undo the
 * other's change with a stale copy. Operations within one process run one at a time.
 *
 * Each WAV also carries its caller and start time in a LIST/INFO comment (ICMT), so a lost or
 * corrupt index is rebuilt from the files with nothing but the tokens (new ones) and the heard
 * flags lost. Index entries whose file is gone are dropped; both with a log line, never a crash.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, stat, open } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod/mini";
import type { Logger } from "../log.js";
import { SAMPLE_RATE, type PruneLimits, type SaveMessageInput, type VoicemailMessage, type VoicemailStoreApi } from "./types.js";
import { wavefile } from "./deps.js";

const INDEX = "index.json";
/** `20261206T045731123Z-1a2b3c4d`: UTC time to the millisecond, then 32 random bits. */
const ID_RE = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;
const FILE_RE = /^\d{8}T\d{9}Z-[0-9a-f]{8}\.wav$/;
const DAY_MS = 86_400_000;

// zod's functional API (zod/mini), as the config's schemas: the full `zod` would load beside it.
const messageSchema = z.object({
  id: z.string().check(z.regex(ID_RE)),
  from: z.string().check(z.maxLength(256)),
  name: z.optional(z.string().check(z.maxLength(256))),
  started_at: z.string().check(z.refine((s) => !Number.isNaN(Date.parse(s)))),
  duration_s: z.number().check(z.nonnegative()),
  file: z.string().check(z.regex(FILE_RE)),
  token: z.string().check(z.regex(/^[A-Za-z0-9_-]{22}$/)),
  heard: z.boolean(),
});
const indexSchema = z.object({ version: z.literal(1), messages: z.array(z.unknown()) });

/** What the WAV's ICMT comment holds: enough to rebuild the index entry. */
const commentSchema = z.object({ from: z.string().check(z.maxLength(256)), name: z.optional(z.string().check(z.maxLength(256))), started_at: z.string() });

export function newMessageId(startedAtMs: number, random: Buffer = randomBytes(4)): string {
  const iso = new Date(startedAtMs).toISOString(); // 2026-12-06T04:57:31.123Z
  return `${iso.slice(0, 10).replace(/-/g, "")}T${iso.slice(11, 23).replace(/[:.]/g, "")}Z-${random.toString("hex", 0, 4)}`;
}

/** 128 random bits, base64url: the secret in a message's HTTP URL. */
export function newToken(): string {
  return randomBytes(16).toString("base64url");
}

/** A WAV file's bytes for 8 kHz mono PCM16 samples, with the caller in the ICMT comment. */
export function encodeWav(samples: Int16Array, comment?: string): Buffer {
  const wav = new wavefile.WaveFile();
  wav.fromScratch(1, SAMPLE_RATE, "16", samples);
  if (comment !== undefined) wav.setTag("ICMT", comment);
  return Buffer.from(wav.toBuffer());
}

export interface VoicemailStoreOptions {
  stateDir: string;
  log: Logger;
  /** Wall clock (ms since the epoch) for prune's age limit. */
  now?: () => number;
}

export class VoicemailStore implements VoicemailStoreApi {
  readonly dir: string;
  private readonly log: Logger;
  private readonly now: () => number;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: VoicemailStoreOptions) {
    this.dir = join(opts.stateDir, "voicemail");
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
  }

  save(input: SaveMessageInput): Promise<VoicemailMessage> {
    return this.serial(async () => {
      await this.ensureDir();
      const startedMs = typeof input.startedAt === "number" ? input.startedAt : input.startedAt.getTime();
      const id = newMessageId(startedMs);
      const msg: VoicemailMessage = {
        id,
        from: input.from,
        ...(input.name !== undefined ? { name: input.name } : {}),
        started_at: new Date(startedMs).toISOString(),
        duration_s: Math.round((input.samples.length / SAMPLE_RATE) * 100) / 100,
        file: `${id}.wav`,
        token: newToken(),
        heard: false,
      };
      const comment = JSON.stringify({ from: msg.from, name: msg.name, started_at: msg.started_at });
      // The index read before the WAV exists (else load() would adopt it), the WAV written
      // before the index: a crash between the two leaves a file the next load adopts.
      const messages = await this.load();
      await writeAtomic(join(this.dir, msg.file), encodeWav(input.samples, comment));
      messages.push(msg);
      messages.sort(byId);
      await this.writeIndex(messages);
      return msg;
    });
  }

  list(): Promise<VoicemailMessage[]> {
    return this.serial(() => this.load());
  }

  get(id: string): Promise<VoicemailMessage | undefined> {
    return this.serial(async () => (await this.load()).find((m) => m.id === id));
  }

  read(id: string): Promise<Buffer | undefined> {
    return this.serial(async () => {
      const msg = (await this.load()).find((m) => m.id === id);
      if (msg === undefined) return undefined;
      try {
        return await readFile(join(this.dir, msg.file));
      } catch (err) {
        this.log.warn({ id, err: errText(err) }, "voicemail file unreadable");
        return undefined;
      }
    });
  }

  markHeard(id: string): Promise<boolean> {
    return this.serial(async () => {
      const messages = await this.load();
      const msg = messages.find((m) => m.id === id);
      if (msg === undefined) return false;
      if (!msg.heard) {
        msg.heard = true;
        await this.writeIndex(messages);
      }
      return true;
    });
  }

  delete(id: string): Promise<boolean> {
    return this.serial(async () => {
      const messages = await this.load();
      const i = messages.findIndex((m) => m.id === id);
      if (i < 0) return false;
      const [msg] = messages.splice(i, 1);
      // The index first: a crash after it leaves an orphan file the next load re-adopts, never an entry without a file.
      await this.writeIndex(messages);
      await rm(join(this.dir, msg!.file), { force: true });
      return true;
    });
  }

  prune(limits: PruneLimits): Promise<VoicemailMessage[]> {
    return this.serial(async () => {
      const messages = await this.load(); // oldest first
      const sizes = await Promise.all(messages.map((m) => fileSize(join(this.dir, m.file))));
      let total = sizes.reduce((a, b) => a + b, 0);
      const maxMessages = positive(limits.maxMessages);
      const maxAgeMs = positive(limits.maxAgeDays) !== undefined ? limits.maxAgeDays! * DAY_MS : undefined;
      const maxBytes = positive(limits.maxBytes);
      const now = this.now();
      let drop = 0;
      while (drop < messages.length) {
        const m = messages[drop]!;
        const over =
          (maxMessages !== undefined && messages.length - drop > maxMessages) ||
          (maxAgeMs !== undefined && now - Date.parse(m.started_at) > maxAgeMs) ||
          (maxBytes !== undefined && total > maxBytes);
        if (!over) break;
        total -= sizes[drop]!;
        drop++;
      }
      if (drop === 0) return [];
      const removed = messages.splice(0, drop);
      await this.writeIndex(messages);
      for (const m of removed) await rm(join(this.dir, m.file), { force: true });
      this.log.info({ removed: removed.length, ids: removed.map((m) => m.id) }, "voicemail: old messages pruned");
      return removed;
    });
  }

  unheardCount(): Promise<number> {
    return this.serial(async () => (await this.load()).filter((m) => !m.heard).length);
  }

  /** One operation at a time: each reads the index, changes it and writes it whole. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async ensureDir(): Promise<void> {
    // Messages are private: only the gateway's user reads them.
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  /**
   * The index as on disk, checked entry by entry, plus any WAV it does not list (adopted from
   * the file's own comment); entries whose file is missing are dropped. Rewritten when it changed.
   */
  private async load(): Promise<VoicemailMessage[]> {
    let files: string[];
    try {
      files = (await readdir(this.dir)).filter((f) => FILE_RE.test(f));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const present = new Set(files);
    let raw: string | undefined;
    try {
      raw = await readFile(join(this.dir, INDEX), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    let dirty = false;
    const messages: VoicemailMessage[] = [];
    if (raw !== undefined) {
      let entries: unknown[] = [];
      try {
        entries = indexSchema.parse(JSON.parse(raw)).messages;
      } catch (err) {
        this.log.warn({ err: errText(err) }, "voicemail index corrupt: rebuilt from the message files");
        dirty = true;
      }
      const seen = new Set<string>();
      for (const e of entries) {
        const parsed = messageSchema.safeParse(e);
        if (!parsed.success) {
          this.log.warn({ entry: JSON.stringify(e)?.slice(0, 200) }, "voicemail index entry invalid: skipped");
          dirty = true;
          continue;
        }
        const m = parsed.data;
        if (seen.has(m.id) || !present.has(m.file)) {
          if (!seen.has(m.id)) this.log.warn({ id: m.id }, "voicemail message file missing: entry dropped");
          dirty = true;
          continue;
        }
        seen.add(m.id);
        messages.push(m);
      }
    } else if (files.length > 0) {
      this.log.warn({ files: files.length }, "voicemail index missing: rebuilt from the message files");
    }
    const listed = new Set(messages.map((m) => m.file));
    for (const f of files) {
      if (listed.has(f)) continue;
      const adopted = await this.adopt(f);
      if (adopted !== undefined) messages.push(adopted);
      dirty = true;
    }
    messages.sort(byId);
    if (dirty) await this.writeIndex(messages);
    return messages;
  }

  /** An index entry for a WAV the index does not list, or undefined (logged) when it is not one of ours. */
  private async adopt(file: string): Promise<VoicemailMessage | undefined> {
    const id = file.slice(0, -4);
    try {
      const wav = new wavefile.WaveFile(await readFile(join(this.dir, file)));
      const fmt = wav.fmt as { sampleRate?: number; numChannels?: number; bitsPerSample?: number };
      const data = wav.data as { chunkSize?: number };
      if (fmt.sampleRate !== SAMPLE_RATE || fmt.numChannels !== 1 || fmt.bitsPerSample !== 16) throw new Error("not 8 kHz mono PCM16");
      let from = "";
      let name: string | undefined;
      let startedAt = idTime(id);
      const comment = commentSchema.safeParse(safeJson(wav.getTag("ICMT") ?? ""));
      if (comment.success) {
        from = comment.data.from;
        name = comment.data.name;
        if (!Number.isNaN(Date.parse(comment.data.started_at))) startedAt = new Date(comment.data.started_at).toISOString();
      }
      this.log.warn({ id }, "voicemail message file not in the index: adopted (new token)");
      return {
        id,
        from,
        ...(name !== undefined ? { name } : {}),
        started_at: startedAt,
        duration_s: Math.round(((data.chunkSize ?? 0) / 2 / SAMPLE_RATE) * 100) / 100,
        file,
        token: newToken(),
        heard: false,
      };
    } catch (err) {
      this.log.warn({ file, err: errText(err) }, "voicemail file unreadable: skipped");
      return undefined;
    }
  }

  private async writeIndex(messages: VoicemailMessage[]): Promise<void> {
    await this.ensureDir();
    await writeAtomic(join(this.dir, INDEX), JSON.stringify({ version: 1, messages }, null, 1) + "\n");
  }
}

/** Write a temp file beside the target, flush it, rename over: readers see the old or the new file, never half. */
async function writeAtomic(path: string, data: Buffer | string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const fh = await open(tmp, "w", 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    // A full disk or a failed rename leaves nothing half-written behind.
    await rm(tmp, { force: true });
    throw err;
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function byId(a: VoicemailMessage, b: VoicemailMessage): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function positive(n: number | undefined): number | undefined {
  return n !== undefined && n > 0 ? n : undefined;
}

function idTime(id: string): string {
  // 20261206T045731123Z → 2026-12-06T04:57:31.123Z
  const d = id.slice(0, 8);
  const t = id.slice(9, 18);
  return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}.${t.slice(6, 9)}Z`;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Exported for the HTTP route and the CLI: an id is only ever looked up if it has this shape. */
export function isMessageId(s: string): boolean {
  return ID_RE.test(s);
}
