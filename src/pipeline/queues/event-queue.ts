import type { QueuedEvent } from '../../core/queued-event';

export type { QueuedEvent } from '../../core/queued-event';

/** FIFO of queued events with O(1) push, shift and indexed peek, and a running byte total. */
export class EventQueue {
  private items: QueuedEvent[] = [];
  private head = 0;
  private total = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.total;
  }

  /** The i-th oldest event (0 = head). */
  at(i: number): QueuedEvent | undefined {
    return this.items[this.head + i];
  }

  push(e: QueuedEvent): void {
    this.items.push(e);
    this.total += e.bytes;
  }

  shift(): QueuedEvent | undefined {
    if (this.head >= this.items.length) return undefined;
    const e = this.items[this.head]!;
    this.head++;
    this.total -= e.bytes;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return e;
  }

  /** Replaces the head with `parts` (in order), e.g. when it no longer fits a message alone. */
  replaceHead(parts: readonly QueuedEvent[]): QueuedEvent | undefined {
    const old = this.shift();
    if (old === undefined) return undefined;
    this.items.splice(this.head, 0, ...parts);
    for (const p of parts) this.total += p.bytes;
    return old;
  }

  *values(): IterableIterator<QueuedEvent> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }
}
