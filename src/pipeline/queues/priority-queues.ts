import type { Clock } from '../../core/clock';
import type { Logger } from '../../core/logger';
import type { MessagePriority } from '../../core/priority';
import { RateLimitedLog } from '../../core/rate-limited-log';
import type { LiveRecord } from '../journal/journal-records';
import { StateJournal } from '../journal/state-journal';
import { EventQueue, type QueuedEvent } from './event-queue';

export { QUEUE_NAMES } from '../../core/priority';
import { QUEUE_NAMES } from '../../core/priority';

/** How maxLocalCacheSizeInBytes is shared between the queues. */
export const QUEUE_SHARES: Readonly<Record<MessagePriority, number>> = { High: 0.5, Low: 0.4, Operational: 0.1 };

/**
 * The Operational queue gets at least this much (at most a quarter of the cache), so that a
 * ConfigurationError and the two statistics events fit even with the smallest cache (8192 bytes,
 * where 10 % would be 819 bytes); High and Low share the rest 5:4.
 */
export const OPERATIONAL_MIN_BYTES = 2048;

/** Byte capacity of each queue for a given cache size; the three add up to `cacheBytes`. */
export function queueCapacities(cacheBytes: number): Record<MessagePriority, number> {
  const operational = Math.max(Math.floor(cacheBytes * QUEUE_SHARES.Operational), Math.min(OPERATIONAL_MIN_BYTES, Math.floor(cacheBytes / 4)));
  const rest = cacheBytes - operational;
  const high = Math.floor((rest * QUEUE_SHARES.High) / (QUEUE_SHARES.High + QUEUE_SHARES.Low));
  return { High: high, Low: rest - high, Operational: operational };
}

export { JOURNAL_FLUSH_MS } from '../journal/state-journal';

export interface PriorityQueuesOptions {
  /** Directory of the journal, `<stateDir>/queues`, when the queues open their own (ignored with `journal`). */
  readonly dir?: string;
  /** The pipeline's state journal, shared with the aggregator's windows; the pipeline closes it. */
  readonly journal?: StateJournal;
  readonly cacheBytes: number;
  readonly clock: Clock;
  readonly log?: Logger;
}

export interface RecoveredFigures {
  events: number;
  damagedLines: number;
  tornTail: boolean;
}

const perQueue = <T>(make: () => T): Record<MessagePriority, T> => ({ High: make(), Low: make(), Operational: make() });

/**
 * The three queues (High, Low, Operational) sharing one byte budget, measured on each event's UTF-8
 * JSON. A full queue drops its oldest events, counted per queue. Events leave only through `ack`
 * (after the transport accepted the message holding them) or a drop; both are journaled.
 */
export class PriorityQueues {
  readonly recovered: RecoveredFigures;
  private readonly queues = perQueue(() => new EventQueue());
  private readonly dropped = perQueue(() => 0);
  private readonly collected = perQueue(() => 0);
  private readonly dropWarnings: RateLimitedLog | undefined;
  private readonly journal: StateJournal;
  private readonly ownsJournal: boolean;
  private capacities: Record<MessagePriority, number>;
  private closed = false;

  constructor(options: PriorityQueuesOptions) {
    this.capacities = queueCapacities(options.cacheBytes);
    this.dropWarnings = options.log ? new RateLimitedLog(options.log, 60_000, () => options.clock.now()) : undefined;
    this.ownsJournal = options.journal === undefined;
    if (options.journal) this.journal = options.journal;
    else if (options.dir !== undefined) this.journal = new StateJournal({ dir: options.dir, clock: options.clock, log: options.log });
    else throw new Error('PriorityQueues needs a journal or a directory');
    this.journal.addLiveSource({ bytes: () => this.totalBytes(), records: () => this.liveRecords() });
    const recovery = this.journal.recovered;
    for (const r of recovery.records) this.queues[r.queue].push({ seq: r.seq, json: r.json, bytes: Buffer.byteLength(r.json) });
    this.recovered = { events: recovery.records.length, damagedLines: recovery.damagedLines, tornTail: recovery.tornTail };
    if (recovery.records.length > 0) options.log?.info('queued events recovered from the journal', { events: recovery.records.length });
    for (const q of QUEUE_NAMES) this.enforce(q, 0);
  }

  capacity(queue: MessagePriority): number {
    return this.capacities[queue];
  }

  /** Shrinking drops the oldest events (counted); growing only makes room. */
  setCacheSize(bytes: number): void {
    this.capacities = queueCapacities(bytes);
    for (const q of QUEUE_NAMES) this.enforce(q, 0);
  }

  length(queue: MessagePriority): number {
    return this.queues[queue].length;
  }

  bytes(queue: MessagePriority): number {
    return this.queues[queue].bytes;
  }

  at(queue: MessagePriority, i: number): QueuedEvent | undefined {
    return this.queues[queue].at(i);
  }

  droppedCount(queue: MessagePriority): number {
    return this.dropped[queue];
  }

  collectedCount(queue: MessagePriority): number {
    return this.collected[queue];
  }

  /** Queues one event; returns false when it alone is larger than the queue and was dropped. */
  push(queue: MessagePriority, json: string, bytes: number = Buffer.byteLength(json)): boolean {
    if (this.closed) return false;
    this.collected[queue]++;
    if (bytes > this.capacity(queue)) {
      this.countDrops(queue, 1);
      return false;
    }
    this.enforce(queue, bytes);
    const e: QueuedEvent = { seq: this.journal.nextSeq(), json, bytes };
    this.queues[queue].push(e);
    this.journal.add(queue, e.seq, json);
    return true;
  }

  /** Removes `sent` (a prefix of the queue taken by the message builder; some may have been dropped since). */
  ack(queue: MessagePriority, sent: readonly QueuedEvent[]): void {
    const q = this.queues[queue];
    const gone: number[] = [];
    for (const e of sent) {
      if (q.at(0) === e) {
        q.shift();
        gone.push(e.seq);
      }
    }
    this.journal.delete(gone);
  }

  /** Replaces the head event by the given parts (each a JSON text), e.g. after splitting an oversize event. */
  replaceHead(queue: MessagePriority, parts: readonly string[]): void {
    const items = parts.map((json): QueuedEvent => ({ seq: this.journal.nextSeq(), json, bytes: Buffer.byteLength(json) }));
    const old = this.queues[queue].replaceHead(items);
    for (const p of items) this.journal.add(queue, p.seq, p.json);
    if (old !== undefined) this.journal.delete([old.seq]);
  }

  /** Writes the journal now (page cache, data sync in the background). */
  flushJournal(): void {
    this.journal.flush();
  }

  /** No more events; a journal the queues opened themselves is written, synced and closed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsJournal) this.journal.close();
  }

  private totalBytes(): number {
    let live = 0;
    for (const q of QUEUE_NAMES) live += this.queues[q].bytes;
    return live;
  }

  private *liveRecords(): IterableIterator<LiveRecord> {
    for (const queue of QUEUE_NAMES) for (const e of this.queues[queue].values()) yield { queue, seq: e.seq, json: e.json };
  }

  /** Drops the oldest events of `queue` until `incoming` more bytes fit. */
  private enforce(queue: MessagePriority, incoming: number): void {
    const q = this.queues[queue];
    const cap = this.capacity(queue);
    if (q.bytes + incoming <= cap) return;
    const gone: number[] = [];
    while (q.length > 0 && q.bytes + incoming > cap) gone.push(q.shift()!.seq);
    this.journal.delete(gone);
    this.countDrops(queue, gone.length);
  }

  private countDrops(queue: MessagePriority, n: number): void {
    if (n === 0) return;
    this.dropped[queue] += n;
    this.dropWarnings?.warn(`drop:${queue}`, 'queue full: oldest events dropped (maxLocalCacheSizeInBytes)', {
      queue,
      droppedTotal: this.dropped[queue],
      capacityBytes: this.capacity(queue),
    });
  }
}
