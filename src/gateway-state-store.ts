/**
 * What the household set and counted that must survive a restart: do-not-disturb and the
 * missed-call counter, in `<state_dir>/gateway-state.json` (written to a temporary file
 * and renamed, so a crash mid-write leaves the old file, never half a file).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "./log.js";
import type { MissedCalls } from "./gateway-api.js";

export interface PersistedState {
  dnd: boolean;
  /**
   * `pbx.dnd` in the config when `dnd` was saved. A config whose pbx.dnd differs from it was
   * edited since: the user's new YAML wins over the state a command left behind.
   */
  dnd_config?: boolean;
  missed: MissedCalls;
}

export class GatewayStateStore {
  private readonly path: string;

  constructor(
    private readonly stateDir: string,
    private readonly log: Logger,
  ) {
    this.path = join(stateDir, "gateway-state.json");
  }

  /** The saved state, or `fallback` when there is none or it is unreadable (logged). */
  load(fallback: PersistedState): PersistedState {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return fallback;
    }
    try {
      const raw = JSON.parse(text) as Partial<PersistedState>;
      const m = raw.missed;
      const configEdited = typeof raw.dnd_config === "boolean" && raw.dnd_config !== fallback.dnd;
      return {
        dnd: typeof raw.dnd === "boolean" && !configEdited ? raw.dnd : fallback.dnd,
        dnd_config: fallback.dnd,
        missed:
          m && Number.isInteger(m.count) && m.count >= 0 && typeof m.since === "string"
            ? { count: m.count, since: m.since, last: m.last && typeof m.last.from === "string" ? m.last : undefined }
            : fallback.missed,
      };
    } catch (err) {
      this.log.warn({ err, path: this.path }, "gateway state unreadable: starting from the config's defaults");
      return fallback;
    }
  }

  save(state: PersistedState): void {
    try {
      mkdirSync(this.stateDir, { recursive: true });
      const tmp = `${this.path}.tmp`;
      writeFileSync(tmp, JSON.stringify(state) + "\n");
      renameSync(tmp, this.path);
    } catch (err) {
      this.log.error({ err, path: this.path }, "could not save the gateway state (dnd, missed calls)");
    }
  }
}
