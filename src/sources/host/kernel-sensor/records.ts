import { endianness } from 'node:os';
import { formatAddressBytes } from '../net/ip-address';

/**
 * Decodes the kernel sensor's ring-buffer records (layout in native/bpf/sensor_events.h; the addon
 * hands them over as one Buffer of concatenated records per batch). Everything in a record came
 * from the kernel, but the strings in it (argv, paths, comm) are chosen by whoever ran the process:
 * they are decoded as UTF-8 with replacement and never interpreted.
 */

export const RecordType = { Exec: 1, Exit: 2, Connect: 3, Accept: 4, Listen: 5, Bind: 6, File: 7 } as const;
export const RECORD_TYPE_NAMES: Record<number, string> = { 1: 'exec', 2: 'exit', 3: 'connect', 4: 'accept', 5: 'listen', 6: 'bind', 7: 'file' };

const F_ARGV_TRUNCATED = 0x1;
const F_PATH_TRUNCATED = 0x2;
const F_CWD_TRUNCATED = 0x4;
const F_PATH2_TRUNCATED = 0x8;
const F_RELATIVE = 0x10;

export const FileOp = { OpenWrite: 1, OpenRead: 2, Unlink: 3, Rename: 4, Truncate: 5, ModuleLoad: 6 } as const;
export const FILE_OP_NAMES: Record<number, string> = { 1: 'OpenForWrite', 2: 'OpenForRead', 3: 'Unlink', 4: 'Rename', 5: 'Truncate', 6: 'KernelModuleLoad' };

const HEADER_BYTES = 80;
const EXEC_BYTES = HEADER_BYTES + 24;
const EXIT_BYTES = HEADER_BYTES + 8;
const NET_BYTES = HEADER_BYTES + 48;
const FILE_BYTES = HEADER_BYTES + 24;

export interface RecordHeader {
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  gid: number;
  euid: number;
  /** cgroup v2 id, and the memory controller's cgroup id (cgroup v1 hosts). */
  cgroupId: bigint;
  cgroupV1Id: bigint;
  /** CLOCK_MONOTONIC of the event, in ns. */
  ktimeNs: bigint;
  comm: string;
}

export interface ExecRecord extends RecordHeader {
  type: 'exec';
  executable: string;
  executableTruncated: boolean;
  cwd: string;
  cwdTruncated: boolean;
  /** Without the /dev/ prefix, as the kernel names it (pts3, ttyS0); "" when none. */
  tty: string;
  argv: string[];
  argvTruncated: boolean;
  /** argv bytes before the cut. */
  argvBytes: number;
}

export interface ExitRecord extends RecordHeader {
  type: 'exit';
  /** wait(2) status. */
  waitStatus: number;
}

export interface NetRecord extends RecordHeader {
  type: 'connect' | 'accept' | 'listen' | 'bind';
  /** Syscall result: 0 or the new fd on success, else -errno (connect: -EINPROGRESS for a non-blocking one). */
  result: number;
  family: 4 | 6;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  backlog: number;
}

export interface FileRecord extends RecordHeader {
  type: 'file';
  operation: string;
  path: string;
  /** Rename: the new name. */
  targetPath?: string;
  pathTruncated: boolean;
  /** The path was joined from a directory and a relative name and may hold "." or ".." (normalised by the decoder). */
  relative: boolean;
  result: number;
}

export type SensorRecord = ExecRecord | ExitRecord | NetRecord | FileRecord;

export interface DecodeResult {
  records: SensorRecord[];
  /** Records that were malformed (short, unknown type, lengths beyond the record): skipped. */
  malformed: number;
}

function cString(buf: Buffer, start: number, end: number): string {
  const nul = buf.indexOf(0, start);
  return buf.toString('utf8', start, nul >= 0 && nul < end ? nul : end);
}

/** argv bytes (NUL-separated, possibly cut in the middle of the last argument). */
export function splitArgv(bytes: Buffer): string[] {
  if (bytes.length === 0) return [];
  const text = bytes.toString('utf8');
  const parts = text.split('\0');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Lexical normalisation of an absolute path (".", "..", "//"), as the relative-path joins need. */
export function normalizeAbsolute(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

export function decodeRecords(buf: Buffer, littleEndian = endianness() === 'LE'): DecodeResult {
  const u16 = (o: number): number => (littleEndian ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number): number => (littleEndian ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const i32 = (o: number): number => (littleEndian ? buf.readInt32LE(o) : buf.readInt32BE(o));
  const u64 = (o: number): bigint => (littleEndian ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o));
  const records: SensorRecord[] = [];
  let malformed = 0;
  let o = 0;
  while (o + 8 <= buf.length) {
    const type = u32(o);
    const size = u32(o + 4);
    if (size < HEADER_BYTES || o + size > buf.length) {
      malformed++;
      break; // the rest of the batch cannot be framed
    }
    const end = o + size;
    const flags = u32(o + 32);
    const header: RecordHeader = {
      pid: u32(o + 8),
      tid: u32(o + 12),
      ppid: u32(o + 16),
      uid: u32(o + 20),
      gid: u32(o + 24),
      euid: u32(o + 28),
      cgroupId: u64(o + 40),
      cgroupV1Id: u64(o + 48),
      ktimeNs: u64(o + 56),
      comm: cString(buf, o + 64, o + 80),
    };
    const decoded = decodeOne(type, header, flags, o, end);
    if (decoded) records.push(decoded);
    else malformed++;
    o = end;
  }

  function decodeOne(type: number, header: RecordHeader, flags: number, at: number, end: number): SensorRecord | undefined {
    switch (type) {
      case RecordType.Exec: {
        if (end - at < EXEC_BYTES) return undefined;
        const lengths = [u32(at + 80), u32(at + 84), u32(at + 88), u32(at + 92)];
        let p = at + EXEC_BYTES;
        const parts: Buffer[] = [];
        for (const len of lengths) {
          if (p + len > end) return undefined;
          parts.push(buf.subarray(p, p + len));
          p += len;
        }
        return {
          type: 'exec',
          ...header,
          executable: parts[0]!.toString('utf8'),
          executableTruncated: (flags & F_PATH_TRUNCATED) !== 0,
          cwd: parts[1]!.toString('utf8'),
          cwdTruncated: (flags & F_CWD_TRUNCATED) !== 0,
          tty: parts[2]!.toString('utf8'),
          argv: splitArgv(parts[3]!),
          argvTruncated: (flags & F_ARGV_TRUNCATED) !== 0,
          argvBytes: u32(at + 96),
        };
      }
      case RecordType.Exit:
        if (end - at < EXIT_BYTES) return undefined;
        return { type: 'exit', ...header, waitStatus: i32(at + 80) };
      case RecordType.Connect:
      case RecordType.Accept:
      case RecordType.Listen:
      case RecordType.Bind: {
        if (end - at < NET_BYTES) return undefined;
        const family = u16(at + 84) === 10 ? 6 : 4;
        const len = family === 6 ? 16 : 4;
        return {
          type: RECORD_TYPE_NAMES[type] as NetRecord['type'],
          ...header,
          result: i32(at + 80),
          family,
          localPort: u16(at + 86),
          remotePort: u16(at + 88),
          backlog: i32(at + 92),
          localAddress: formatAddressBytes(Buffer.from(buf.subarray(at + 96, at + 96 + len))),
          remoteAddress: formatAddressBytes(Buffer.from(buf.subarray(at + 112, at + 112 + len))),
        };
      }
      case RecordType.File: {
        if (end - at < FILE_BYTES) return undefined;
        const op = u32(at + 80);
        const pathLen = u32(at + 88);
        const path2Len = u32(at + 92);
        const p = at + FILE_BYTES;
        if (p + pathLen + path2Len > end || FILE_OP_NAMES[op] === undefined) return undefined;
        const relative = (flags & F_RELATIVE) !== 0;
        // Joined relative names, and absolute ones as a caller gave them ("/tmp/../etc/shadow"), are normalised.
        const fix = (s: string): string => (relative || /\/\.\.?(\/|$)/.test(s) ? normalizeAbsolute(s) : s);
        const record: FileRecord = {
          type: 'file',
          ...header,
          operation: FILE_OP_NAMES[op]!,
          path: fix(buf.toString('utf8', p, p + pathLen)),
          pathTruncated: (flags & (F_PATH_TRUNCATED | F_PATH2_TRUNCATED)) !== 0,
          relative,
          result: i32(at + 84),
        };
        if (path2Len > 0) record.targetPath = fix(buf.toString('utf8', p + pathLen, p + pathLen + path2Len));
        return record;
      }
      default:
        return undefined;
    }
  }
  return { records, malformed };
}
