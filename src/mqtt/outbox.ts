/**
 * Events published while the broker is away wait here, oldest first, up to a bound; when
 * full the oldest goes and the drop is counted, so a long outage costs memory once, not
 * for ever. Retained state needs no queue: it is republished whole on reconnect.
 */
export interface Queued {
  topic: string;
  payload: string;
}

export class Outbox {
  private items: Queued[] = [];
  private droppedSinceFlush = 0;

  constructor(private readonly max: number) {}

  push(item: Queued): void {
    if (this.max === 0) {
      this.droppedSinceFlush++;
      return;
    }
    if (this.items.length >= this.max) {
      this.items.shift();
      this.droppedSinceFlush++;
    }
    this.items.push(item);
  }

  /** Everything queued, in order, and how many were dropped meanwhile; empties the box. */
  take(): { items: Queued[]; dropped: number } {
    const out = { items: this.items, dropped: this.droppedSinceFlush };
    this.items = [];
    this.droppedSinceFlush = 0;
    return out;
  }

  get size(): number {
    return this.items.length;
  }
}
