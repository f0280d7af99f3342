/**
 * Inbound callers refused before anyone rings (`blocklist:`): listed numbers and, when
 * configured, withheld ones. The line hears 486 Busy Here or 603 Decline (RFC 3261
 * §21.4.7, §21.6.2); the call is reported as `rejected`.
 */
import { normalizeNumber } from "./phonebook.js";

export interface BlockDecision {
  status: 486 | 603;
  reason: string;
  why: string;
}

export class Blocklist {
  private readonly numbers: Set<string>;

  constructor(private readonly opts: { numbers: string[]; withheld: boolean; status: 486 | 603 }) {
    this.numbers = new Set(opts.numbers.map(normalizeNumber));
  }

  /** Why a caller is refused, or undefined to let the call ring. */
  check(caller: string): BlockDecision | undefined {
    const reason = this.opts.status === 603 ? "Decline" : "Busy Here";
    if (caller === "anonymous") return this.opts.withheld ? { status: this.opts.status, reason, why: "withheld number blocked" } : undefined;
    if (this.numbers.has(normalizeNumber(caller))) return { status: this.opts.status, reason, why: "number on the blocklist" };
    return undefined;
  }
}
