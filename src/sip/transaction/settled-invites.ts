/**
 * INVITE server transactions that only absorb retransmissions any more, kept as small records
 * (linger-table.ts) instead of objects holding their request, last response and timers:
 * - Accepted (RFC 6026 §7.1, until Timer L = 64·T1): a retransmitted INVITE is absorbed; the
 *   ACK for the 2xx is the TU's (it has its own transaction, §17.1.1.3); a CANCEL gets 200
 *   with our To tag (§9.2) and has no effect.
 * - Confirmed (§17.2.1, until Timer I = T4): retransmitted INVITEs and ACKs are absorbed.
 * Nothing is sent from either state, so a record is its key, the tags to match by, and when
 * it goes. The transaction object stays usable by a TU that still holds it (a live call
 * sending its 2xx again) and is garbage once the TU lets go.
 */
import type { TimerWheel } from "./timer-wheel.js";
import { LingerTable } from "./linger-table.js";
import { flatString } from "../../flat-string.js";

export interface SettledInvite {
  /** Confirmed: the ACK for our 300–699 came; ACK retransmissions are absorbed. Accepted otherwise. */
  readonly confirmed: boolean;
  /** Our responses' To tag: a CANCEL's 200 carries it (§9.2); RFC 2543 ACK matching compares it. */
  readonly toTag: string;
  /** The INVITE's own To tag, for RFC 2543 matching of a retransmitted INVITE ("" unless such a key). */
  readonly requestToTag: string;
  readonly due: number;
}

export class SettledInvites {
  private readonly table: LingerTable<SettledInvite>;

  constructor(wheel: TimerWheel, now: () => number) {
    this.table = new LingerTable(wheel, now);
  }

  get size(): number {
    return this.table.size;
  }

  /** Files a settled INVITE server transaction for `holdMs` (Timer L or I); returns when it goes. */
  add(key: string, holdMs: number, confirmed: boolean, toTag: string, requestToTag: string): number {
    const ours = toTag === "" ? "" : flatString(toTag);
    const theirs = requestToTag === "" ? "" : flatString(requestToTag);
    return this.table.add(key, holdMs, (due) => ({ confirmed, toTag: ours, requestToTag: theirs, due })).due;
  }

  /**
   * The record a retransmitted INVITE (or an ACK, or a CANCEL looking for its INVITE) matches.
   * RFC 2543 keys (§17.2.3) also compare To tags: an INVITE's with the request's, an ACK's with ours.
   */
  match(key: string, rfc2543: { requestToTag?: string; ackToTag?: string } | undefined): SettledInvite | undefined {
    const e = this.table.get(key);
    if (!e || !rfc2543) return e;
    if (rfc2543.requestToTag !== undefined && rfc2543.requestToTag !== e.requestToTag) return undefined;
    if (rfc2543.ackToTag !== undefined && rfc2543.ackToTag !== e.toTag) return undefined;
    return e;
  }

  clear(): void {
    this.table.clear();
  }
}
