/**
 * What a configuration allows but should not: printed by `check-config` (which still exits 0)
 * and logged once at start: weak extension passwords, since an extension's password is what
 * stands between a scanner and calls billed to the line; an answering machine that would
 * answer only after the ringing gave up.
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
  // The call gives up ringing (480 to the line) at pbx.ring_timeout_s: the machine would never answer.
  if (cfg.voicemail.enabled && cfg.voicemail.answer_after_s >= cfg.pbx.ring_timeout_s)
    out.push({ path: "voicemail.answer_after_s", message: `not below pbx.ring_timeout_s (${cfg.pbx.ring_timeout_s}): calls stop ringing before the answering machine answers` });
  return out;
}
