import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readJournal, runJournalctl, type JournalctlRunner } from './journal';
import { journalSignature } from './journal-changes';

/**
 * Follows sshd's entries in a journal directory: one read at a time (never overlapping), the cursor
 * saved after each read (0600, atomically), so a restart goes on where it stopped, and a cursor
 * journalctl refuses (a corrupted state file, a journal replaced) starts over from now with a warning.
 */
export interface JournalFollowerOptions {
  directory: string;
  stateDir: string;
  readExisting: boolean;
  onLines(lines: string[]): void;
  onProblem(problem: string | undefined): void;
  run?: JournalctlRunner;
}

const STATE_FILE = 'login-journal-cursor.json';
const MAX_CURSOR = 512;

export class JournalFollower {
  private cursor: string | undefined;
  private readonly since: Date | undefined;
  reads = 0;

  constructor(private readonly o: JournalFollowerOptions) {
    this.cursor = this.loadCursor();
    this.since = o.readExisting ? undefined : new Date();
  }

  private file(): string {
    return path.join(this.o.stateDir, STATE_FILE);
  }

  private loadCursor(): string | undefined {
    try {
      const parsed = JSON.parse(readFileSync(this.file(), 'utf8')) as { cursor?: unknown };
      // A cursor is journald's "s=…;i=…;b=…;m=…;t=…;x=…": anything else is not passed to journalctl.
      return typeof parsed.cursor === 'string' && parsed.cursor.length <= MAX_CURSOR && /^[a-z]=[0-9a-f]+(;[a-z]=[0-9a-f]+)*$/.test(parsed.cursor) ? parsed.cursor : undefined;
    } catch {
      return undefined;
    }
  }

  private saveCursor(): void {
    if (!this.cursor) return;
    mkdirSync(this.o.stateDir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file()}.tmp`;
    writeFileSync(tmp, JSON.stringify({ cursor: this.cursor }), { mode: 0o600 });
    renameSync(tmp, this.file());
  }

  private running?: Promise<void>;
  private queued?: Promise<void>;
  /** The journal directory as it was before the last read that took everything there was (see journalSignature). */
  private readSignature?: string;
  /** The last read ended with nothing left to read and no problem. */
  private caughtUp = false;

  /**
   * The timer's read: skipped when the journal files are exactly as they were before the last read
   * that took everything (no journalctl started for nothing every poll), else as poll().
   */
  pollIfChanged(now: number = Date.now()): Promise<void> {
    if (this.running || this.queued) return this.poll();
    const signature = journalSignature(this.o.directory, now);
    if (signature !== undefined && this.caughtUp && signature === this.readSignature) return Promise.resolve();
    this.readSignature = signature;
    return this.poll();
  }

  /**
   * Reads what is new. Never two journalctl at once: while one runs, one more read is queued (and
   * shared by every caller meanwhile), so a caller always gets a read that started after its call.
   */
  poll(): Promise<void> {
    if (this.queued) return this.queued;
    if (this.running) {
      this.queued = this.running.then(() => {
        this.queued = undefined;
        return this.start();
      });
      return this.queued;
    }
    return this.start();
  }

  private start(): Promise<void> {
    this.running = this.readSlices().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async readSlices(): Promise<void> {
    this.caughtUp = false;
    try {
      let more = true;
      // A backlog is read in capped slices, one after the other, within this poll.
      for (let slices = 0; more && slices < 8; slices++) {
        const result = await readJournal(this.o.directory, this.cursor, this.since, this.o.run ?? runJournalctl);
        this.reads++;
        if (result.error && result.lines.length === 0) {
          if (this.cursor && /cursor/i.test(result.error)) {
            this.o.onProblem(`saved journal cursor refused (${result.error}); following from now`);
            this.cursor = undefined;
          } else {
            this.o.onProblem(`journalctl failed on ${this.o.directory}: ${result.error}`);
          }
          return;
        }
        this.o.onProblem(undefined);
        const lines = result.lines.map((l) => l.line).filter((l) => l !== '');
        this.cursor = result.cursor;
        if (lines.length > 0) this.o.onLines(lines);
        this.saveCursor();
        more = result.more;
      }
      this.caughtUp = !more;
    } catch (err) {
      // The state directory full or read-only: the next read starts from the cursor in memory.
      this.o.onProblem(`journal read failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
