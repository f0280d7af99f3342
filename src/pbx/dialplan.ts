/**
 * The dialplan: which way a number dialled on a phone goes. Rules come from the config
 * (`dialplan:`), are compiled once, and the first match wins; no match means 404.
 *
 * Rules are plain JavaScript regular expressions tested against the whole dialled string and
 * are not anchored for you: write `^…$` (the defaults do).
 *
 * Normalisation before matching (on by default, `normalize: false` turns it off), because a
 * user dials from the phone's address book, not from a keypad:
 * - visual separators are dropped: space, "-", ".", "(", ")" (RFC 3966 §5.1.1
 *   visual-separator, plus the space contacts apps insert), so "03-1234-5678" and
 *   "(03) 1234 5678" dial 0312345678. Only done when what remains is a dial string
 *   (digits, `*`, `#`, a leading `+`), so a name like "front.door" is left alone.
 * - a Japanese E.164 number "+81…" becomes the national "0…" that the NGN expects
 *   (docs/ngn.md "Outbound calls": numbers go out in national format), so "+81 3-1234-5678" dials 0312345678.
 */

import type { TollAllowance } from "./toll.js";

export interface DialplanRule {
  /** A regular expression (JavaScript syntax) over the dialled number. */
  match: string;
  /** "extension" (ring the dialled extension), "trunk" (out via the NGN), or an extension's number. */
  to: "extension" | "trunk" | string;
  /** Numbers this rule sends to the trunk may be international (010…, 00XY…, +…); see toll.ts. */
  allow_international?: boolean;
  /** …or premium-rate (pbx.premium_prefixes). */
  allow_premium?: boolean;
}

/**
 * Where a number goes; `rule` names the dialplan entry that sent it there (for the log line
 * of a refused call: `dialplan[2] ^0[0-9]+$ → trunk`).
 */
export type Route =
  | { kind: "extension"; number: string; rule?: string }
  | { kind: "trunk"; number: string; allow: TollAllowance; rule?: string }
  | { kind: "user"; number: string; rule?: string }
  | { kind: "none" };

interface CompiledRule {
  re: RegExp;
  /** `dialplan[i] <match> → <to>`, as the config says it. */
  name: string;
  allow: TollAllowance;
  target: { kind: "extension" } | { kind: "trunk" } | { kind: "user"; number: string };
}

export interface DialplanOptions {
  /** Strip visual separators and turn +81 into 0 before matching (default true). */
  normalize?: boolean;
}

const SEPARATORS = /[\s\-.()]/g;
const DIAL_STRING = /^\+?[0-9*#]+$/;

/** The dialled string as rules see it (see the file comment). */
export function normalizeDialled(dialled: string): string {
  const stripped = dialled.replace(SEPARATORS, "");
  if (!DIAL_STRING.test(stripped)) return dialled;
  if (stripped.startsWith("+81")) return "0" + stripped.slice(3);
  return stripped;
}

export class Dialplan {
  private readonly rules: CompiledRule[];
  private readonly normalize: boolean;

  /** Throws on an invalid regular expression or target, naming the rule's index. */
  constructor(rules: readonly DialplanRule[], opts: DialplanOptions = {}) {
    this.normalize = opts.normalize ?? true;
    this.rules = rules.map((r, i) => {
      let re: RegExp;
      try {
        // No "g"/"y" flag: test() must not carry lastIndex from one call to the next.
        re = new RegExp(r.match);
      } catch (e) {
        throw new Error(`dialplan[${i}].match: ${(e as Error).message}`);
      }
      const name = `dialplan[${i}] ${r.match} → ${r.to}`;
      const allow = { international: r.allow_international ?? false, premium: r.allow_premium ?? false };
      if (r.to === "extension") return { re, name, allow, target: { kind: "extension" } };
      if (r.to === "trunk") return { re, name, allow, target: { kind: "trunk" } };
      if (/^[0-9]+$/.test(r.to)) return { re, name, allow, target: { kind: "user", number: r.to } };
      throw new Error(`dialplan[${i}].to: expected "extension", "trunk" or an extension number, got "${r.to}"`);
    });
  }

  /** `dialled` is the Request-URI user part, already unescaped (%20 → space). */
  route(dialled: string): Route {
    const number = this.normalize ? normalizeDialled(dialled) : dialled;
    if (number === "") return { kind: "none" };
    for (const r of this.rules) {
      if (!r.re.test(number)) continue;
      if (r.target.kind === "user") return { kind: "user", number: r.target.number, rule: r.name };
      if (r.target.kind === "trunk") return { kind: "trunk", number, allow: r.allow, rule: r.name };
      return { kind: r.target.kind, number, rule: r.name };
    }
    return { kind: "none" };
  }
}
