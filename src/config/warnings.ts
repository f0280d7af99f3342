/**
 * What a configuration allows but should not: printed by `check-config` (which still exits 0)
 * and logged once at start. Today: weak extension passwords, since an extension's password
 * is what stands between a scanner and calls billed to the line.
 */
import type { Config } from "./schema.js";
import type { ConfigProblem } from "./load.js";

/** Shorter than this is guessable within what the lockout allows over weeks. */
export const MIN_GOOD_PASSWORD = 12;

export function configWarnings(cfg: Config): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  cfg.extensions.forEach((e, i) => {
    const path = `extensions[${i}].password`;
    const p = e.password;
    if (p === e.number || p.includes(e.number)) out.push({ path, message: `weak: contains the extension number ${e.number}` });
    else if (/^[0-9]+$/.test(p)) out.push({ path, message: "weak: digits only" });
    if (p.length < MIN_GOOD_PASSWORD) out.push({ path, message: `weak: shorter than ${MIN_GOOD_PASSWORD} characters` });
  });
  return out;
}
