import type { Logger } from '../core/logger';
import type { Clock } from '../pipeline/types';
import type { MessagePriority } from '../sinks/transport';
import { EventQueue, type QueuedEvent } from './event-queue';
import { Journal, MemoryOnlyJournal, type JournalHealth, type QueueJournal } from './journal';
import type { HitUpdate, LiveRecord, WindowRecord } from './journal-records';

export const QUEUE_NAMES: readonly MessagePriority[] = ['High', 'Low', 'Operational'];

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

/** Journal records are written at most this long after the event was queued (the power-cut window). */
export const JOURNAL_FLUSH_MS = 200;

const DROP_WARNING_EVERY_MS = 60_000;

export interface PriorityQueuesOptions {
  /** Directory of the journal, `<stateDir>/queues`. */
  readonly dir: string;
  readonly cacheBytes: number;
  readonly clock: Clock;
  readonly log?: Logger;
}

/**
 * Where the aggregator records its open windows, in the queues' journal, so that a crash loses no
 * key: a new key is written like a queued event; hit counts are brought up to date periodically.
 */
export interface WindowJournal {
  /** Records a new aggregation entry; returns its id. */
  open(json: string): number;
  hits(updates: readonly HitUpdate[]): void;
  /** The entries were emitted (their events are queued by now). */
  close(ids: readonly number[]): void;
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
  /** Aggregation entries open when the journal was last written; the aggregator takes them back. */
  readonly recoveredWindows: readonly WindowRecord[];
  private windowSource: () => Iterable<WindowRecord> = () => [];
  private readonly queues = perQueue(() => new EventQueue());
  private readonly dropped = perQueue(() => 0);
  private readonly collected = perQueue(() => 0);
  private readonly lastDropWarning = perQueue(() => -Infinity);
  private readonly journal: QueueJournal;
  private capacities: Record<MessagePriority, number>;
  private nextSeq = 1;
  private flushTimer: unknown;
  private closed = false;

  constructor(private readonly options: PriorityQueuesOptions) {
    this.capacities = queueCapacities(options.cacheBytes);
    const recovery = Journal.recover(options.dir, options.log);
    this.recoveredWindows = recovery.windows;
    try {
      this.journal = Journal.create(options.dir, [...recovery.records, ...recovery.windows], options.log);
    } catch (err) {
      options.log?.error('queue journal unusable: events are kept in memory only and will not survive a restart', { dir: options.dir, error: err });
      this.journal = new MemoryOnlyJournal();
    }
    for (const r of recovery.records) {
      this.queues[r.queue].push({ seq: r.seq, json: r.json, bytes: Buffer.byteLength(r.json) });
      if (r.seq >= this.nextSeq) this.nextSeq = r.seq + 1;
    }
    for (const w of recovery.windows) if (w.seq >= this.nextSeq) this.nextSeq = w.seq + 1;
    this.recovered = { events: recovery.records.length, damagedLines: recovery.damagedLines, tornTail: recovery.tornTail };
    if (recovery.records.length > 0) options.log?.info('queued events recovered from the journal', { events: recovery.records.length });
    for (const q of QUEUE_NAMES) this.enforce(q, 0);
  }

  /** Whether the journal is written, and what could not be (disk full, read-only). */
  journalHealth(): JournalHealth {
    return this.journal.health();
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
    const e: QueuedEvent = { seq: this.nextSeq++, json, bytes };
    this.queues[queue].push(e);
    this.journal.appendAdd(queue, e.seq, json);
    this.scheduleFlush();
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
    this.journal.appendDelete(gone);
    this.scheduleFlush();
  }

  /** Replaces the head event by the given parts (each a JSON text), e.g. after splitting an oversize event. */
  replaceHead(queue: MessagePriority, parts: readonly string[]): void {
    const items = parts.map((json): QueuedEvent => ({ seq: this.nextSeq++, json, bytes: Buffer.byteLength(json) }));
    const old = this.queues[queue].replaceHead(items);
    for (const p of items) this.journal.appendAdd(queue, p.seq, p.json);
    if (old !== undefined) this.journal.appendDelete([old.seq]);
    this.scheduleFlush();
  }

  /** The journal side of aggregation; `source` gives the open entries' current state for compaction. */
  windowJournal(source: () => Iterable<WindowRecord>): WindowJournal {
    this.windowSource = source;
    return {
      open: (json) => {
        const seq = this.nextSeq++;
        this.journal.appendWindow(seq, json);
        this.scheduleFlush();
        return seq;
      },
      hits: (updates) => {
        this.journal.appendHits(updates);
        this.scheduleFlush();
      },
      close: (ids) => {
        this.journal.appendDelete(ids);
        this.scheduleFlush();
      },
    };
  }

  /** Writes the journal now (page cache, data sync in the background). */
  flushJournal(): void {
    if (this.flushTimer !== undefined) {
      this.options.clock.clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    let live = 0;
    for (const q of QUEUE_NAMES) live += this.queues[q].bytes;
    this.journal.flush(live, () => this.liveRecords());
  }

  /** Writes and syncs the journal and closes it; the queues keep their content for stats. */
  close(): void {
    if (this.closed) return;
    if (this.flushTimer !== undefined) this.options.clock.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.closed = true;
    this.journal.close();
  }

  private *liveRecords(): IterableIterator<LiveRecord> {
    for (const queue of QUEUE_NAMES) for (const e of this.queues[queue].values()) yield { queue, seq: e.seq, json: e.json };
    yield* this.windowSource();
  }

  /** Drops the oldest events of `queue` until `incoming` more bytes fit. */
  private enforce(queue: MessagePriority, incoming: number): void {
    const q = this.queues[queue];
    const cap = this.capacity(queue);
    if (q.bytes + incoming <= cap) return;
    const gone: number[] = [];
    while (q.length > 0 && q.bytes + incoming > cap) gone.push(q.shift()!.seq);
    this.journal.appendDelete(gone);
    this.countDrops(queue, gone.length);
  }

  private countDrops(queue: MessagePriority, n: number): void {
    if (n === 0) return;
    this.dropped[queue] += n;
    const now = this.options.clock.now();
    if (now - this.lastDropWarning[queue] >= DROP_WARNING_EVERY_MS) {
      this.lastDropWarning[queue] = now;
      this.options.log?.warn('queue full: oldest events dropped (maxLocalCacheSizeInBytes)', {
        queue,
        droppedTotal: this.dropped[queue],
        capacityBytes: this.capacity(queue),
      });
    }
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined || this.closed) return;
    this.flushTimer = this.options.clock.setTimeout(() => {
      this.flushTimer = undefined;
      try {
        this.flushJournal();
      } catch (err) {
        this.options.log?.warn('queue journal flush failed', { error: err });
      }
    }, JOURNAL_FLUSH_MS);
  }
}
