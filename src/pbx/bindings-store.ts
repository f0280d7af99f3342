/**
 * Persistence of registrar bindings (RFC 3261 §10.3 location service), so a restart of the
 * gateway forgets no phone: a phone re-registers only every `expires` seconds and would be
 * unreachable until then.
 *
 * One JSON file in `state_dir`, written atomically (temp file, fsync, rename: a power cut on
 * the Pi's SD card leaves either the old or the new file) and throttled: the first change
 * schedules a write `delayMs` later and every change until then rides along, so a burst of
 * 1000 registrations/s costs one write per `delayMs`, not 1000. `close()` flushes.
 * A corrupt file is logged, set aside as `<file>.corrupt` and the registrar starts empty.
 */
import { mkdirSync, readFileSync, renameSync } from "node:fs";
import { mkdir, open, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Clock, TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import type { Endpoint } from "../sip/message/types.js";

/** One registered contact of an extension (RFC 3261 §10.3 step 7 stores these fields). */
export interface Binding {
  /** The extension number (the AOR's user part). */
  aor: string;
  /** Contact URI exactly as the phone sent it (without the <> and header params). */
  contact: string;
  /** Where the REGISTER came from: requests to the phone go here (NAT, like Asterisk nat=force_rport). */
  source: Endpoint;
  /** Path header values, top first (RFC 3327); empty when none. */
  path: string[];
  userAgent?: string;
  callId: string;
  cseq: number;
  /** Clock milliseconds at which the binding lapses. */
  expiresAt: number;
  /** Contact preference 0..1 (RFC 3261 §20.10), when the phone gave one. */
  q?: number;
  /** +sip.instance (RFC 5626 §4.2.1), when the phone gave one. */
  instance?: string;
}

export interface BindingsStoreOptions {
  stateDir: string;
  clock: Clock;
  log: Logger;
  /** File name inside stateDir. Default "bindings.json". */
  fileName?: string;
  /** Longest a change waits before it is written. Default 2000 ms. */
  delayMs?: number;
}

interface FileFormat {
  version: 1;
  bindings: Binding[];
}

export class BindingsStore {
  readonly path: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly delayMs: number;
  private snapshot: (() => Binding[]) | undefined;
  private timer: TimerHandle | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  /** Completed writes (for tests and status). */
  writes = 0;

  constructor(opts: BindingsStoreOptions) {
    this.path = join(opts.stateDir, opts.fileName ?? "bindings.json");
    this.clock = opts.clock;
    this.log = opts.log;
    this.delayMs = opts.delayMs ?? 2000;
    mkdirSync(opts.stateDir, { recursive: true });
  }

  /** Reads the bindings saved last time, dropping those already expired. Synchronous: runs once at start. */
  load(): Binding[] {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      this.log.error({ err: e, path: this.path }, "cannot read saved bindings; starting empty");
      return [];
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
      if (!isFileFormat(data)) throw new Error("unexpected structure");
    } catch (e) {
      const aside = this.path + ".corrupt";
      try {
        renameSync(this.path, aside);
      } catch {
        // Nothing more to do: the next save overwrites the bad file anyway.
      }
      this.log.error({ err: (e as Error).message, path: this.path, kept_as: aside }, "saved bindings are corrupt; starting empty");
      return [];
    }
    const now = this.clock.now();
    const live = data.bindings.filter((b) => isBinding(b) && b.expiresAt > now);
    this.log.info({ loaded: live.length, dropped: data.bindings.length - live.length }, "bindings restored");
    return live;
  }

  /**
   * Notes that the bindings changed; `snapshot` is called when the write happens, so a burst
   * of changes builds the list once.
   */
  changed(snapshot: () => Binding[]): void {
    if (this.closed) return;
    this.snapshot = snapshot;
    this.dirty = true;
    this.schedule();
  }

  /** Writes now if anything changed; resolves when the file is on disk. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    // One write at a time. Bounded: a write takes milliseconds, and nothing here loops on failure.
    for (let i = 0; i < 100 && this.writing; i++) await this.writing;
    if (!this.dirty || !this.snapshot) return;
    this.dirty = false;
    const done = this.write(this.snapshot());
    this.writing = done;
    await done;
    this.writing = undefined;
    // Changes made while writing (or a failed write) go out with the next timer.
    if (this.dirty) this.schedule();
  }

  private schedule(): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.delayMs);
  }

  /** Flushes and stops accepting changes. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async write(bindings: Binding[]): Promise<void> {
    const body: FileFormat = { version: 1, bindings };
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      // state_dir may have been removed under a running gateway (a cleanup, a tmpfs remount).
      await mkdir(dirname(this.path), { recursive: true });
      const fh = await open(tmp, "w", 0o600);
      try {
        await fh.writeFile(JSON.stringify(body));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
      this.writes++;
    } catch (e) {
      this.log.error({ err: e, path: this.path }, "cannot save bindings");
      this.dirty = true; // try again with the next change or flush
    }
  }
}

function isFileFormat(v: unknown): v is FileFormat {
  return typeof v === "object" && v !== null && (v as FileFormat).version === 1 && Array.isArray((v as FileFormat).bindings);
}

function isBinding(b: unknown): b is Binding {
  if (typeof b !== "object" || b === null) return false;
  const x = b as Binding;
  return (
    typeof x.aor === "string" &&
    typeof x.contact === "string" &&
    typeof x.source === "object" &&
    x.source !== null &&
    typeof x.source.address === "string" &&
    typeof x.source.port === "number" &&
    Array.isArray(x.path) &&
    typeof x.callId === "string" &&
    typeof x.cseq === "number" &&
    typeof x.expiresAt === "number"
  );
}
