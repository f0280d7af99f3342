/**
 * What a bad config is reported as: every problem at once, each with its YAML path
 * (`extensions[1].password: required`), the way `check-config` prints them. Its own file so
 * the schema check (load.ts) and the cross-key checks (semantic.ts) share it without
 * importing each other.
 */

export interface ConfigProblem {
  /** Dotted YAML path, e.g. `inbound.ring[0]`. */
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`${file}: ${problems.length} problem(s) in the configuration:\n` + problems.map((p) => `  ${p.path}: ${p.message}`).join("\n"));
    this.name = "ConfigError";
  }
}
