import type { Clock } from '../../core/clock';
import type { Logger } from '../../core/logger';
import type { MessagePriority } from '../../core/priority';
import { Journal, type JournalHealth, type QueueJournal } from './journal';
import { DeferredJournal } from './deferred-journal';
import type { HitUpdate, JournalRecord, LiveRecord, WindowRecord } from './journal-records';

/** Journal records are written at most this long after the change (the power-cut window). */
export const JOURNAL_FLUSH_MS = 200;

/** Something whose state the journal holds: compaction rewrites its live records. */
export interface LiveSource {
  /** Bytes of live content (decides whether the journal is worth compacting). */
  bytes(): number;
  records(): Iterable<LiveRecord>;
}

export interface RecoveredState {
  readonly records: readonly JournalRecord[];
  readonly windows: readonly WindowRecord[];
  readonly damagedLines: number;
  readonly tornTail: boolean;
}

export interface StateJournalOptions {
  /** Directory of the journal, `<stateDir>/queues`. */
  readonly dir: string;
  readonly clock: Clock;
  readonly log?: Logger;
  /** Whether the state directory's lock is held: a deferred journal is created only then (deferred-journal.ts). */
  readonly lockHeld?: () => boolean;
}

/**
 * The pipeline's persisted state in `<stateDir>/queues`: the queued events and the open aggregation
 * windows, in one journal with one sequence of ids. Each writer appends its records; the journal
 * writes them within JOURNAL_FLUSH_MS and compacts from the live sources registered with it.
 */
export class StateJournal {
  readonly recovered: RecoveredState;
  private readonly journal: QueueJournal;
  private readonly sources: LiveSource[] = [];
  private seq = 1;
  private flushTimer: unknown;
  private closed = false;

  constructor(private readonly options: StateJournalOptions) {
    const recovery = Journal.recover(options.dir, options.log);
    this.recovered = { records: recovery.records, windows: recovery.windows, damagedLines: recovery.damagedLines, tornTail: recovery.tornTail };
    let journal: QueueJournal;
    try {
      journal = Journal.create(options.dir, [...recovery.records, ...recovery.windows], options.log);
    } catch (err) {
      options.log?.warn('queue journal cannot be created (state directory full or read-only?): events are kept in memory and still sent, but a restart would lose them; retrying every 5 s', { dir: options.dir, error: (err as NodeJS.ErrnoException).code ?? String(err) });
      journal = new DeferredJournal(options.dir, err, options.log, undefined, options.lockHeld);
    }
    this.journal = journal;
    for (const r of [...recovery.records, ...recovery.windows]) if (r.seq >= this.seq) this.seq = r.seq + 1;
  }

  /** Whether the journal is written, and what could not be (disk full, read-only). */
  health(): JournalHealth {
    return this.journal.health();
  }

  addLiveSource(source: LiveSource): void {
    this.sources.push(source);
  }

  nextSeq(): number {
    return this.seq++;
  }

  add(queue: MessagePriority, seq: number, json: string): void {
    this.journal.appendAdd(queue, seq, json);
    this.scheduleFlush();
  }

  delete(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.journal.appendDelete(seqs);
    this.scheduleFlush();
  }

  window(seq: number, json: string): void {
    this.journal.appendWindow(seq, json);
    this.scheduleFlush();
  }

  hits(updates: readonly HitUpdate[]): void {
    this.journal.appendHits(updates);
    this.scheduleFlush();
  }

  /** Writes the journal now (page cache, data sync in the background). */
  flush(): void {
    if (this.flushTimer !== undefined) {
      this.options.clock.clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    let live = 0;
    for (const s of this.sources) live += s.bytes();
    const sources = this.sources;
    this.journal.flush(live, function* () {
      for (const s of sources) yield* s.records();
    });
  }

  /** Writes and syncs the journal and closes it. */
  close(): void {
    if (this.closed) return;
    if (this.flushTimer !== undefined) this.options.clock.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.closed = true;
    this.journal.close();
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined || this.closed) return;
    this.flushTimer = this.options.clock.setTimeout(() => {
      this.flushTimer = undefined;
      try {
        this.flush();
      } catch (err) {
        this.options.log?.warn('queue journal flush failed', { error: err });
      }
    }, JOURNAL_FLUSH_MS);
  }
}

/** The aggregator's WindowStore on the state journal, and the aggregator's open entries as a live source. */
export function journalWindowStore(journal: StateJournal, open: () => Iterable<WindowRecord>) {
  journal.addLiveSource({ bytes: () => 0, records: open });
  return {
    open: (json: string): number => {
      const seq = journal.nextSeq();
      journal.window(seq, json);
      return seq;
    },
    hits: (updates: readonly HitUpdate[]): void => journal.hits(updates),
    close: (ids: readonly number[]): void => journal.delete(ids),
  };
}
