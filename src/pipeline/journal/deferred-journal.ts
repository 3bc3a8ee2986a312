import type { Logger } from '../../core/logger';
import type { MessagePriority } from '../../core/priority';
import { Journal, RECOVERY_EVERY_MS, type JournalHealth, type QueueJournal } from './journal';
import type { HitUpdate, LiveRecord } from './journal-records';

/**
 * The journal of an agent whose state directory could not hold one at start (full, read-only): the
 * queues work in memory, what is not written is counted, and every RECOVERY_EVERY_MS a flush tries to
 * create the journal again from the live records; once that succeeds it takes over. It is created only
 * while this agent holds the state directory's lock (`lockHeld`): an agent that started without one
 * shares the directory with whoever takes it first and must not write a journal beside theirs.
 */
export class DeferredJournal implements QueueJournal {
  private journal?: Journal;
  private unpersisted = 0;
  private writeFailures = 1;
  private lastError: string;
  private lastAttempt: number;
  private closed = false;

  constructor(
    private readonly dir: string,
    error: unknown,
    private readonly log?: Logger,
    private readonly now: () => number = () => performance.now(),
    private readonly lockHeld: () => boolean = () => true,
  ) {
    this.lastError = errorCode(error);
    this.lastAttempt = this.now();
  }

  health(): JournalHealth {
    if (this.journal) {
      const h = this.journal.health();
      return { ...h, unpersistedRecords: h.unpersistedRecords + this.unpersisted, writeFailures: h.writeFailures + this.writeFailures };
    }
    return { persisting: false, unpersistedRecords: this.unpersisted, writeFailures: this.writeFailures, lastError: this.lastError };
  }

  appendAdd(queue: MessagePriority, seq: number, json: string): void {
    if (this.journal) this.journal.appendAdd(queue, seq, json);
    else this.unpersisted++;
  }

  appendDelete(seqs: readonly number[]): void {
    this.journal?.appendDelete(seqs);
  }

  appendWindow(seq: number, json: string): void {
    this.journal?.appendWindow(seq, json);
  }

  appendHits(updates: readonly HitUpdate[]): void {
    this.journal?.appendHits(updates);
  }

  flush(liveBytes: number, live: () => Iterable<LiveRecord>): void {
    if (this.closed) return;
    if (this.journal) {
      this.journal.flush(liveBytes, live);
      return;
    }
    const now = this.now();
    if (now - this.lastAttempt < RECOVERY_EVERY_MS) return;
    this.lastAttempt = now;
    if (!this.lockHeld()) return;
    const records = [...live()];
    try {
      this.journal = Journal.create(this.dir, records, this.log);
    } catch (err) {
      this.writeFailures++;
      this.lastError = errorCode(err);
      return;
    }
    this.lastError = '';
    this.log?.info('queue journal created: the state directory is writable again and the queues are on disk', { dir: this.dir, records: records.length, unpersistedRecords: this.unpersisted });
  }

  close(): void {
    this.closed = true;
    this.journal?.close();
  }
}

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'EIO';
}
