import { closeSync, fdatasync, fdatasyncSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../core/logger';
import type { MessagePriority } from '../../core/priority';
import { addLine, deleteLine, hitsLine, replay, windowLine, type HitUpdate, type JournalRecord, type LiveRecord, type WindowRecord } from './journal-records';

/**
 * The queues' journal on disk, in `<dir>/segment-<generation>.log` (record format: journal-records.ts).
 * Replaying every segment in generation order rebuilds the queues and open aggregation windows; a torn
 * or damaged line is skipped with a warning and every intact record around it is kept. Compaction
 * writes the live records to a new generation, syncs it, then deletes the older ones; a crash in
 * between leaves both, and replaying both gives the same state. With no live records the older ones are
 * deleted first and one no-op record is written (rewrite()).
 */

export interface RecoveryReport {
  records: JournalRecord[];
  windows: WindowRecord[];
  segments: number;
  damagedLines: number;
  /** Records with a valid CRC whose JSON does not parse: skipped (counted in damagedLines too). */
  invalidJsonRecords: number;
  tornTail: boolean;
}

const SEGMENT = /^segment-(\d+)\.log$/;
/** Pending records beyond this are written at once rather than waiting for the timer (bounds memory in a burst). */
const MAX_PENDING_CHARS = 1 << 20;
/** Below this size the active segment is never compacted: rewriting costs more than it saves. */
const COMPACT_MIN_BYTES = 1 << 20;

function listSegments(dir: string): number[] {
  return readdirSync(dir)
    .map((f) => SEGMENT.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

function segmentPath(dir: string, generation: number): string {
  return path.join(dir, `segment-${generation}.log`);
}

/** Whether the journal is being written; what could not be (disk full, read-only file system…). */
export interface JournalHealth {
  persisting: boolean;
  /** Records not written since start: they live in memory and are still sent, but a restart would lose them. */
  unpersistedRecords: number;
  writeFailures: number;
  /** errno code of the last failure (ENOSPC, EROFS, EIO…), '' when none. */
  lastError: string;
}

/** What an empty rewrite writes: an update of no aggregation keys, which replay ignores. */
const PROBE_LINE = hitsLine([]);

/** While writes fail, a full rewrite of the live records is tried at most this often. */
export const RECOVERY_EVERY_MS = 5_000;

/** What the queues need from a journal. */
export interface QueueJournal {
  health(): JournalHealth;
  appendAdd(queue: MessagePriority, seq: number, json: string): void;
  appendDelete(seqs: readonly number[]): void;
  appendWindow(seq: number, json: string): void;
  appendHits(updates: readonly HitUpdate[]): void;
  flush(liveBytes: number, live: () => Iterable<LiveRecord>): void;
  close(): void;
}

export class Journal implements QueueJournal {
  private fd: number;
  private generation: number;
  private activeBytes = 0;
  /** Bytes the last rewrite wrote: compaction waits until the segment has at least doubled since. */
  private baseBytes = 0;
  private pending: string[] = [];
  private pendingBytes = 0;
  private syncing = false;
  private syncAgain = false;
  private closed = false;
  private pendingRecords = 0;
  private unpersisted = 0;
  private writeFailures = 0;
  private lastError = '';
  /** performance.now() when writes started failing (monotonic: a stepped wall clock changes nothing). */
  private failingSince?: number;
  private lastRecoveryAttempt = -Infinity;

  private constructor(
    private readonly dir: string,
    generation: number,
    private readonly log?: Logger,
  ) {
    this.generation = generation;
    this.fd = openSync(segmentPath(dir, generation), 'a');
  }

  /** Reads what the journal in `dir` holds. Never throws on damaged content (logged); unreadable segments are skipped. */
  static recover(dir: string, log?: Logger): RecoveryReport {
    let generations: number[] = [];
    try {
      generations = listSegments(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log?.warn('queue journal directory unreadable', { dir, error: err });
    }
    const live = new Map<number, JournalRecord>();
    const windows = new Map<number, WindowRecord>();
    let damagedLines = 0;
    let invalidJsonRecords = 0;
    let tornTail = false;
    for (const g of generations) {
      let text: string;
      try {
        text = readFileSync(segmentPath(dir, g), 'utf8');
      } catch (err) {
        log?.warn('queue journal segment unreadable, skipped', { segment: g, error: err });
        continue;
      }
      const [damaged, torn, invalid] = replay(text, live, windows);
      damagedLines += damaged + invalid;
      invalidJsonRecords += invalid;
      tornTail ||= torn;
    }
    if (damagedLines > 0 || tornTail) {
      log?.warn('queue journal had damaged records; every intact record was kept', { damagedLines, invalidJsonRecords, tornTail, recovered: live.size });
    }
    return { records: [...live.values()], windows: [...windows.values()], segments: generations.length, damagedLines, invalidJsonRecords, tornTail };
  }

  /**
   * Starts a new generation in `dir` holding exactly `records` (what recover() returned, which also
   * clears any damage), then deletes the older generations. Throws when the directory is unusable.
   */
  static create(dir: string, records: readonly LiveRecord[], log?: Logger): Journal {
    mkdirSync(dir, { recursive: true });
    const generations = listSegments(dir);
    const journal = new Journal(dir, (generations[generations.length - 1] ?? 0) + 1, log);
    try {
      journal.rewrite(records, generations);
    } catch (err) {
      closeSync(journal.fd);
      throw err;
    }
    return journal;
  }

  health(): JournalHealth {
    return { persisting: this.failingSince === undefined, unpersistedRecords: this.unpersisted, writeFailures: this.writeFailures, lastError: this.lastError };
  }

  /**
   * A write failed (ENOSPC, EROFS, EIO, or a short write that left a torn line): what was pending is
   * counted and dropped (the queues still hold it and still send it). Until a full rewrite of the live
   * records succeeds, nothing more is appended, so the segment never interleaves torn and whole records.
   */
  private writeFailed(err: unknown, records: number): void {
    this.writeFailures++;
    this.unpersisted += records;
    this.lastError = (err as NodeJS.ErrnoException).code ?? 'EIO';
    if (this.failingSince !== undefined) return;
    this.failingSince = performance.now();
    this.log?.warn('queue journal cannot be written: events stay in memory and are still sent, but a restart would lose them; retrying', {
      error: this.lastError,
      dir: this.dir,
    });
  }

  get bytesOnDisk(): number {
    return this.activeBytes + this.pendingBytes;
  }

  appendAdd(queue: MessagePriority, seq: number, json: string): void {
    this.push(addLine(queue, seq, json));
  }

  appendDelete(seqs: readonly number[]): void {
    if (seqs.length > 0) this.push(deleteLine(seqs));
  }

  appendWindow(seq: number, json: string): void {
    this.push(windowLine({ seq, json }));
  }

  appendHits(updates: readonly HitUpdate[]): void {
    if (updates.length > 0) this.push(hitsLine(updates));
  }

  /**
   * Writes the pending records (page cache) and starts a data sync in the background. `liveBytes`
   * (the queues' current content) decides whether the segment is worth compacting, with `live()`.
   */
  flush(liveBytes: number, live: () => Iterable<LiveRecord>): void {
    if (this.closed) return;
    if (this.failingSince !== undefined) {
      this.writePending();
      const now = performance.now();
      if (now - this.lastRecoveryAttempt < RECOVERY_EVERY_MS) return;
      this.lastRecoveryAttempt = now;
      if (this.compact([...live()])) {
        this.log?.info('queue journal writable again: the queues were rewritten to disk', { unpersistedRecords: this.unpersisted, failedForMs: Math.round(now - this.failingSince) });
        this.failingSince = undefined;
        this.lastError = '';
      }
      return;
    }
    this.writePending();
    if (this.activeBytes > COMPACT_MIN_BYTES && this.activeBytes > 2 * Math.max(liveBytes, this.baseBytes) + COMPACT_MIN_BYTES / 4) {
      this.compact([...live()]);
      return;
    }
    this.syncInBackground();
  }

  /** Writes and syncs everything now, then closes the file. */
  close(): void {
    if (this.closed) return;
    this.writePending();
    try {
      fdatasyncSync(this.fd);
    } catch (err) {
      this.log?.warn('queue journal sync failed', { error: err });
    }
    closeSync(this.fd);
    this.closed = true;
  }

  private push(text: string): void {
    if (this.closed) return;
    this.pendingRecords++;
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes > MAX_PENDING_CHARS) this.writePending();
  }

  private writePending(): void {
    if (this.pending.length === 0) return;
    const records = this.pendingRecords;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingRecords = 0;
    if (this.failingSince !== undefined) {
      this.unpersisted += records;
      return;
    }
    try {
      this.writeAll(text);
    } catch (err) {
      // The queues still hold the events in memory; they are lost only if the process also dies.
      this.writeFailed(err, records);
    }
  }

  /** One write of `text`; a short write (the disk filled up mid-way) is an error like ENOSPC. */
  private writeAll(text: string): void {
    const bytes = Buffer.byteLength(text);
    const written = writeSync(this.fd, text);
    this.activeBytes += written;
    if (written < bytes) throw Object.assign(new Error(`short write: ${written} of ${bytes} bytes`), { code: 'ENOSPC' });
  }

  private syncInBackground(): void {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    const fd = this.fd;
    fdatasync(fd, (err) => {
      this.syncing = false;
      if (err && !this.closed && fd === this.fd) this.log?.warn('queue journal sync failed', { error: err });
      if (this.syncAgain && !this.closed) {
        this.syncAgain = false;
        this.syncInBackground();
      }
    });
  }

  /** A failed compaction leaves the older generations in place: replaying them all still gives the queues. True when it succeeded. */
  private compact(records: readonly LiveRecord[]): boolean {
    let fd: number;
    let old: number[];
    try {
      old = listSegments(this.dir);
      fd = openSync(segmentPath(this.dir, this.generation + 1), 'a');
    } catch (err) {
      if (this.failingSince === undefined) this.log?.warn('queue journal compaction failed', { error: err });
      this.writeFailed(err, 0);
      return false;
    }
    closeSync(this.fd);
    this.fd = fd;
    this.generation++;
    this.activeBytes = 0;
    try {
      this.rewrite(records, old);
      return true;
    } catch (err) {
      if (this.failingSince === undefined) this.log?.warn('queue journal compaction failed', { error: err });
      this.writeFailed(err, 0);
      return false;
    }
  }

  /**
   * Writes `records` into the (new, empty) active segment, syncs it, then deletes `older` generations.
   * With no records the older generations hold nothing live: they are deleted first (on a disk the
   * journal itself filled, that is what frees the space), then one no-op record is written, because a
   * rewrite that wrote nothing proves nothing: on a full disk an empty file can still be created, and
   * the journal would report itself persisting until its next append failed.
   */
  private rewrite(records: readonly LiveRecord[], older: readonly number[]): void {
    if (records.length === 0) {
      this.deleteOlder(older);
      this.writeAll(PROBE_LINE);
      this.baseBytes = this.activeBytes;
      fdatasyncSync(this.fd);
      return;
    }
    const chunk: string[] = [];
    let size = 0;
    const write = (): void => {
      this.writeAll(chunk.join(''));
      chunk.length = 0;
      size = 0;
    };
    for (const r of records) {
      const text = 'queue' in r ? addLine(r.queue, r.seq, r.json) : windowLine(r);
      chunk.push(text);
      size += text.length;
      if (size > 256 * 1024) write();
    }
    if (chunk.length > 0) write();
    this.baseBytes = this.activeBytes;
    fdatasyncSync(this.fd);
    this.deleteOlder(older);
  }

  private deleteOlder(older: readonly number[]): void {
    for (const g of older) {
      if (g === this.generation) continue;
      try {
        unlinkSync(segmentPath(this.dir, g));
      } catch (err) {
        this.log?.warn('could not delete an old queue journal segment', { segment: g, error: err });
      }
    }
  }
}
