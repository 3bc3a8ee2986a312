import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../../core/atomic-write';
import { fileKind, readRegularRange, UnsafeFileError } from '../../../core/safe-read';

/** Where reading of one followed file stands; persisted so a restart neither re-reports nor skips. */
export interface FileCursor {
  /** Inode of the file the offset belongs to; 0 = not seen yet (read from its start when it appears). */
  ino: number;
  offset: number;
  /** Detected utmp record size of this inode (binary files only). */
  recordSize?: number;
  /**
   * Hash of the bytes just before `offset` (the last line or record read): if they changed, the file
   * was truncated and rewritten in place (copytruncate) to at least the old length, which the size
   * alone cannot show.
   */
  mark?: string;
  /** How many bytes before `offset` the mark covers. */
  markLength?: number;
}

/** The mark of `offset` in `file` over up to `length` bytes before it (see FileCursor.mark). */
export function markAt(file: string, offset: number, length: number): string | undefined {
  if (offset === 0) return undefined;
  const start = Math.max(0, offset - length);
  return createHash('sha1').update(readRange(file, start, offset - start)).digest('base64');
}

export type CursorMap = Record<string, FileCursor>;

export interface ReadChunk {
  /** 'rotated' = the rest of the previous file, found as <name>.1 after a rotation; it is complete. */
  origin: 'current' | 'rotated';
  file: string;
  data: Buffer;
  /** File offset of data[0]. */
  position: number;
}

export type CursorNote = { kind: 'rotated'; finishedPrevious: boolean } | { kind: 'truncated'; previousOffset: number; size: number };

/** Reads `length` bytes at `position` of a regular file (never a FIFO or device); short when the file is shorter. */
export function readRange(file: string, position: number, length: number): Buffer {
  return readRegularRange(file, position, length);
}

/** The stat of a followed file; undefined when missing; UnsafeFileError when it is no regular file (a FIFO, /dev/zero). */
function statOrUndefined(file: string): Stats | undefined {
  // No exception for a missing file: one is expected on every poll (auth.log or secure, whichever the distribution lacks).
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st) return undefined;
  if (!st.isFile()) throw new UnsafeFileError(st.isDirectory() ? 'EISDIR' : 'ENOTREG', `is ${fileKind(st)}, not a regular file`);
  return st;
}

/**
 * Finds what is new in a followed file since `cursor`. Handles rotation (inode changed: the rest of
 * the old inode is read from <file>.1 when it is there, then the new file from its start) and
 * truncation (size below the offset: from the start). At most `maxBytes` of the current file per call.
 * The caller advances `cursor.offset` by what it consumed of the 'current' chunk and sets its mark.
 */
export function readNew(
  file: string,
  cursor: FileCursor,
  maxBytes: number,
  unchanged?: (st: Stats) => boolean,
): { chunks: ReadChunk[]; cursor: FileCursor; notes: CursorNote[]; stat?: Stats; unchanged?: true; capped?: true } {
  const st = statOrUndefined(file);
  if (!st) return { chunks: [], cursor, notes: [] };
  // Nothing to read and no mark to check: the file is as it was at the last complete read.
  if (unchanged?.(st)) return { chunks: [], cursor, notes: [], stat: st, unchanged: true };
  let capped = false;
  const chunks: ReadChunk[] = [];
  const notes: CursorNote[] = [];
  let next = cursor;
  if (cursor.ino !== 0 && cursor.ino !== st.ino) {
    const rotated = `${file}.1`;
    const old = statOrUndefined(rotated);
    const finishedPrevious = old !== undefined && old.ino === cursor.ino;
    if (finishedPrevious && old.size > cursor.offset) {
      capped ||= old.size - cursor.offset > maxBytes;
      chunks.push({ origin: 'rotated', file: rotated, data: readRange(rotated, cursor.offset, Math.min(old.size - cursor.offset, maxBytes)), position: cursor.offset });
    }
    notes.push({ kind: 'rotated', finishedPrevious });
    next = { ino: st.ino, offset: 0 };
  } else if (cursor.ino === 0) {
    next = { ino: st.ino, offset: 0 };
  } else if (st.size < cursor.offset || (cursor.mark !== undefined && markAt(file, cursor.offset, cursor.markLength ?? 0) !== cursor.mark)) {
    notes.push({ kind: 'truncated', previousOffset: cursor.offset, size: st.size });
    next = { ino: st.ino, offset: 0, recordSize: cursor.recordSize };
  }
  if (st.size > next.offset) {
    capped ||= st.size - next.offset > maxBytes;
    chunks.push({ origin: 'current', file, data: readRange(file, next.offset, Math.min(st.size - next.offset, maxBytes)), position: next.offset });
  }
  return { chunks, cursor: next, notes, stat: st, ...(capped ? { capped: true as const } : {}) };
}

/** Cursors of all followed files, in <stateDir>/<name>; written atomically. */
export class CursorStore {
  private readonly file: string;

  constructor(stateDir: string, name: string) {
    this.file = path.join(stateDir, name);
  }

  /** The saved cursors, or undefined on a first start (no file); a corrupt file counts as none. */
  load(): { cursors?: CursorMap; error?: string } {
    if (!existsSync(this.file)) return {};
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      if (typeof parsed !== 'object' || parsed === null) return { error: 'not an object' };
      const out: CursorMap = {};
      for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
        const c = value as Partial<FileCursor>;
        if (typeof c?.ino === 'number' && typeof c.offset === 'number' && c.offset >= 0) {
          out[key] = {
            ino: c.ino,
            offset: c.offset,
            ...(typeof c.recordSize === 'number' ? { recordSize: c.recordSize } : {}),
            ...(typeof c.mark === 'string' && typeof c.markLength === 'number' ? { mark: c.mark, markLength: c.markLength } : {}),
          };
        }
      }
      return { cursors: out };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }

  save(cursors: CursorMap): void {
    writeFileAtomic(this.file, JSON.stringify(cursors));
  }
}
