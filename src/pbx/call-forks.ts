/**
 * The B legs of a call, ringing in parallel: one per device of the callee (or the trunk).
 * Which of them still ring, which have an early dialog, which failed how, and the one
 * failure the caller hears once every leg is done (RFC 3261 §16.7 step 6, simplified).
 */
import type { Header } from "../sip/message/types.js";
import type { BLeg } from "./call-types.js";

export interface ForkFailure {
  status: number;
  reason: string;
}

/** §16.7 step 6, simplified: 6xx beats all, then 486 (busy), then the lowest class; 503, 408 and 487 last. */
function rank(status: number): number {
  if (status >= 600) return 0;
  if (status === 486) return 1;
  if (status === 487) return 9;
  if (status === 408) return 8;
  if (status === 503) return 7;
  return 2 + Math.floor(status / 100);
}

export class Forks {
  readonly legs: BLeg[] = [];
  private best?: ForkFailure;

  add(leg: BLeg): void {
    this.legs.push(leg);
  }

  /** The legs with an early dialog (a provisional with a To tag came) that still ring. */
  early(): BLeg[] {
    return this.legs.filter((l) => l.dialog.remoteTag !== "" && !l.final && !l.cancelled);
  }

  /**
   * A leg's INVITE failed (a final response ≥ 300, a timeout, a transport error). A leg we
   * cancelled is not counted: its 487 is our doing. Returns what the caller should hear once
   * no leg rings any more (480 when none said anything better), else undefined.
   */
  failed(leg: BLeg, status: number, reason: string): ForkFailure | undefined {
    if (!leg.cancelled && (!this.best || rank(status) < rank(this.best.status))) this.best = { status, reason };
    if (!this.legs.every((l) => l.final)) return undefined;
    return this.best ?? { status: 480, reason: "Temporarily Unavailable" };
  }

  /**
   * CANCEL every leg still ringing except `keep` (§9.1; the layer sends it once a provisional
   * came), with `reason` (RFC 3326 Reason headers) saying why.
   */
  cancelRinging(keep?: BLeg, reason: Header[] = []): void {
    for (const leg of this.legs) {
      if (leg === keep || leg.final) continue;
      leg.cancelled = true;
      leg.net.tx.cancel(leg.tx, reason);
    }
  }
}
