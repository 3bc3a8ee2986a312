import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/**
 * The one way EdgeGuard reads a file whose path a setting, a command line or an attacker controls
 * (manifests, configuration files, login files, host files, /proc): only regular files, opened
 * without blocking (a FIFO would otherwise hang the open for ever), checked with fstat on the open
 * descriptor (no stat-then-open race), and never more than a cap read into memory (a file can grow
 * while it is read; /dev/zero never ends).
 */

/** Opened read-only, without blocking on FIFOs, without becoming the controlling terminal (libuv adds O_CLOEXEC). */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

export type UnsafeFileCode = 'ENOTREG' | 'EISDIR' | 'EFBIG';

/** A file refused by the safe reader: not a regular file, or larger than the cap. */
export class UnsafeFileError extends Error {
  constructor(
    readonly code: UnsafeFileCode,
    message: string,
  ) {
    super(message);
    this.name = 'UnsafeFileError';
  }
}

/** What kind of file a stat describes, in words for an error message. */
export function fileKind(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Opens a regular file; anything else (FIFO, device, socket, directory) is closed again and refused. */
export function openRegularFile(file: string): { fd: number; stat: Stats } {
  const fd = openSync(file, OPEN_FLAGS);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new UnsafeFileError(stat.isDirectory() ? 'EISDIR' : 'ENOTREG', `is ${fileKind(stat)}, not a regular file`);
    }
    return { fd, stat };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function tooLarge(maxBytes: number): UnsafeFileError {
  return new UnsafeFileError('EFBIG', `is larger than ${maxBytes} bytes`);
}

/**
 * Reads from `fd` until end of file or until `limit` bytes arrived, whichever is first. The buffer starts
 * at `start` bytes and doubles as data arrives: a large limit costs nothing for a small file (/proc and
 * /sys files report size 0, so their size is no guide).
 */
function readUpTo(fd: number, start: number, limit: number): Buffer {
  let buffer = Buffer.allocUnsafe(start);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length >= limit) break;
      const next = Buffer.allocUnsafe(Math.min(buffer.length * 2, limit));
      buffer.copy(next, 0, 0, length);
      buffer = next;
    }
    const n = readSync(fd, buffer, length, buffer.length - length, null);
    if (n === 0) break;
    length += n;
  }
  return buffer.subarray(0, length);
}

/** The first buffer size for a file `size` bytes long read up to `cap` bytes. */
function startSize(size: number, cap: number): number {
  return Math.min(Math.max(size, 4096), cap);
}

/** The whole content of a regular file of at most `maxBytes`; throws UnsafeFileError or the fs error. */
export function readRegularFile(file: string, maxBytes: number): Buffer {
  const { fd, stat } = openRegularFile(file);
  try {
    if (stat.size > maxBytes) throw tooLarge(maxBytes);
    // One byte beyond the cap tells a file that grew past it; one beyond the size spares a doubling at the end.
    const content = readUpTo(fd, startSize(stat.size, maxBytes) + 1, maxBytes + 1);
    if (content.length > maxBytes) throw tooLarge(maxBytes);
    return content;
  } finally {
    closeSync(fd);
  }
}

/** readRegularFile as UTF-8 text. */
export function readRegularText(file: string, maxBytes: number): string {
  return readRegularFile(file, maxBytes).toString('utf8');
}

/**
 * The first `maxBytes` of a regular file, the rest left unread (for /proc and /sys entries and
 * other small host files where a prefix is as good as the whole); throws for anything else.
 */
export function readRegularPrefix(file: string, maxBytes: number): Buffer {
  const { fd, stat } = openRegularFile(file);
  try {
    return readUpTo(fd, startSize(stat.size, maxBytes), maxBytes);
  } finally {
    closeSync(fd);
  }
}

/** `length` bytes at `position` of a regular file (short when the file is shorter). */
export function readRegularRange(file: string, position: number, length: number): Buffer {
  const { fd } = openRegularFile(file);
  try {
    const buffer = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buffer, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return buffer.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/** The errno-like code of a read failure (ENOENT, EACCES, ENOTREG, EFBIG…), never file content. */
export function readErrorCode(error: unknown): string {
  const e = error as NodeJS.ErrnoException | undefined;
  return e?.code ?? 'error';
}

/** One short phrase for a read failure, for CLI errors, statuses and logs. */
export function describeReadError(error: unknown): string {
  if (error instanceof UnsafeFileError) return error.message;
  const code = readErrorCode(error);
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    case 'ENXIO':
      return 'is a socket or device without a reader';
    default:
      return `cannot read (${code})`;
  }
}
