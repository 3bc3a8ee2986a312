/**
 * Binary utmp/wtmp/btmp records (glibc `struct utmp`, little-endian). Two layouts exist in the field:
 * 384 bytes (x86_64, 32-bit ARM: 32-bit ut_session and timeval) and 400 bytes (aarch64 and other
 * 64-bit ABIs without the 32-bit compat: 64-bit ut_session and timeval, padded to 8).
 */

export type UtmpRecordSize = 384 | 400;
export const UTMP_RECORD_SIZES: readonly UtmpRecordSize[] = [384, 400];

export const UT_TYPES = {
  EMPTY: 0,
  RUN_LVL: 1,
  BOOT_TIME: 2,
  NEW_TIME: 3,
  OLD_TIME: 4,
  INIT_PROCESS: 5,
  LOGIN_PROCESS: 6,
  USER_PROCESS: 7,
  DEAD_PROCESS: 8,
  ACCOUNTING: 9,
} as const;

export interface UtmpRecord {
  type: number;
  pid: number;
  line: string;
  id: string;
  user: string;
  host: string;
  /** Seconds since the epoch, with microseconds. */
  time: Date;
  /** ut_addr_v6 as text: IPv4 when only the first word is set, else IPv6; undefined when all zero. */
  address?: string;
}

interface Layout {
  tvSec: number;
  tvUsec: number;
  timeBytes: 4 | 8;
  addr: number;
}

const LAYOUTS: Record<UtmpRecordSize, Layout> = {
  384: { tvSec: 340, tvUsec: 344, timeBytes: 4, addr: 348 },
  400: { tvSec: 344, tvUsec: 352, timeBytes: 8, addr: 360 },
};

function cString(buf: Buffer, start: number, length: number): string {
  const slice = buf.subarray(start, start + length);
  const end = slice.indexOf(0);
  return slice.subarray(0, end === -1 ? length : end).toString('utf8');
}

function readTime(buf: Buffer, offset: number, bytes: 4 | 8): number {
  return bytes === 4 ? buf.readInt32LE(offset) : Number(buf.readBigInt64LE(offset));
}

function formatAddress(buf: Buffer, offset: number): string | undefined {
  const words = [0, 4, 8, 12].map((i) => buf.readUInt32LE(offset + i));
  if (words.every((w) => w === 0)) return undefined;
  if (words[1] === 0 && words[2] === 0 && words[3] === 0) {
    return [...buf.subarray(offset, offset + 4)].join('.');
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(offset + i).toString(16));
  // Shorten the longest run of zero groups, as the canonical text form does.
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len && j - i > 1) best = { start: i, len: j - i };
    i = j;
  }
  if (best.start === -1) return groups.join(':');
  return `${groups.slice(0, best.start).join(':')}::${groups.slice(best.start + best.len).join(':')}`;
}

export function parseUtmpRecord(buf: Buffer, size: UtmpRecordSize): UtmpRecord {
  const layout = LAYOUTS[size];
  const sec = readTime(buf, layout.tvSec, layout.timeBytes);
  const usec = readTime(buf, layout.tvUsec, layout.timeBytes);
  return {
    type: buf.readInt16LE(0),
    pid: buf.readInt32LE(4),
    line: cString(buf, 8, 32),
    id: cString(buf, 40, 4),
    user: cString(buf, 44, 32),
    host: cString(buf, 76, 256),
    time: new Date(sec * 1000 + Math.floor(usec / 1000)),
    address: formatAddress(buf, layout.addr),
  };
}

// 1990-01-01 .. 2200-01-01: a record outside this window was not written by a sane clock in this layout.
const MIN_SEC = 631_152_000;
const MAX_SEC = 7_258_118_400;

/** How believable a record is in a layout: 0 = impossible, higher = more fields look right. */
function plausibility(buf: Buffer, size: UtmpRecordSize): number {
  const layout = LAYOUTS[size];
  const type = buf.readInt16LE(0);
  if (type < 0 || type > 9 || buf.readUInt16LE(2) !== 0) return 0;
  const pid = buf.readInt32LE(4);
  if (pid < 0 || pid > 4_194_304) return 0;
  const sec = readTime(buf, layout.tvSec, layout.timeBytes);
  const usec = readTime(buf, layout.tvUsec, layout.timeBytes);
  if (usec < 0 || usec >= 1_000_000) return 0;
  let score = 1;
  if (type === UT_TYPES.EMPTY && sec === 0) return score;
  if (sec < MIN_SEC || sec > MAX_SEC) return 0;
  score++;
  // In the 384 layout the 400 layout's tv_sec high word overlaps tv_usec and vice versa; the
  // unused tail must also be zero in a record written by glibc.
  const tail = buf.subarray(layout.addr + 16, size);
  if (tail.every((b) => b === 0)) score++;
  return score;
}

/** Reads `length` bytes at `position` of the file being examined. */
export type ReadAt = (position: number, length: number) => Buffer;

/**
 * The record size of a utmp file, from its length and the plausibility of the records at the
 * start, in the middle and at the end. Undefined when the file is too short or neither layout fits.
 */
export function detectRecordSize(fileLength: number, readAt: ReadAt): UtmpRecordSize | undefined {
  if (fileLength < 384) return undefined;
  let best: { size: UtmpRecordSize; score: number } | undefined;
  for (const size of UTMP_RECORD_SIZES) {
    const count = Math.floor(fileLength / size);
    if (count === 0) continue;
    const samples = [...new Set([0, 1, Math.floor(count / 2), count - 1].filter((i) => i < count))];
    let score = 0;
    let impossible = false;
    for (const i of samples) {
      const record = readAt(i * size, size);
      const s = record.length === size ? plausibility(record, size) : 0;
      if (s === 0) impossible = true;
      score += s;
    }
    if (impossible) continue;
    if (fileLength % size === 0) score += 2;
    if (!best || score > best.score) best = { size, score };
  }
  return best?.size;
}

/** detectRecordSize over a buffer holding a whole file. */
export function detectRecordSizeOfBuffer(file: Buffer): UtmpRecordSize | undefined {
  return detectRecordSize(file.length, (position, length) => file.subarray(position, position + length));
}

/** Complete records in `buf`; `rest` is the byte count of an incomplete final record. */
export function parseUtmpRecords(buf: Buffer, size: UtmpRecordSize): { records: UtmpRecord[]; rest: number } {
  const records: UtmpRecord[] = [];
  const count = Math.floor(buf.length / size);
  for (let i = 0; i < count; i++) records.push(parseUtmpRecord(buf.subarray(i * size, (i + 1) * size), size));
  return { records, rest: buf.length - count * size };
}
