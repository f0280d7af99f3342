/**
 * §13.3.1.4: the UAS core, not the transaction, retransmits a 2xx to INVITE: from T1,
 * doubling up to T2, until the ACK comes; after 64·T1 without one it gives up and the
 * TU should end the session with BYE. The layer runs one of these per 2xx sent by an
 * INVITE server transaction; it is usable on its own too.
 */
import type { TimerDurations } from "./timer-values.js";
import type { TimerWheel, WheelTimer } from "./timer-wheel.js";

export class Retransmit2xx {
  private interval: number;
  private retransmit: WheelTimer | undefined;
  private deadline: WheelTimer | undefined;
  private done = false;
  /** Retransmissions sent so far (the first send is not counted). */
  count = 0;

  constructor(
    private readonly wheel: TimerWheel,
    private readonly durations: Pick<TimerDurations, "t1" | "t2">,
    private readonly send: () => void,
    private readonly onNoAck: () => void,
  ) {
    this.interval = durations.t1;
  }

  /** Call right after the first send of the 2xx. */
  start(): void {
    this.retransmit = this.wheel.schedule(this.interval, () => this.fire());
    this.deadline = this.wheel.schedule(64 * this.durations.t1, () => {
      this.stop();
      this.onNoAck();
    });
  }

  /** The ACK came (or the TU gave up). */
  stop(): void {
    if (this.done) return;
    this.done = true;
    this.wheel.cancel(this.retransmit);
    this.wheel.cancel(this.deadline);
  }

  get stopped(): boolean {
    return this.done;
  }

  private fire(): void {
    if (this.done) return;
    this.count++;
    this.send();
    this.interval = Math.min(2 * this.interval, this.durations.t2);
    this.retransmit = this.wheel.schedule(this.interval, () => this.fire());
  }
}
