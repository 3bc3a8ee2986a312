import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { hostPath } from '../../../core/host-root';
import { readRegularPrefix } from '../../../core/safe-read';

/**
 * Reusable readers of /proc/<pid>: "pid -> executable, command line, user". Every reader takes the
 * proc root (from resolveProcRoot) so tests can point it at a prepared tree. Parsers never throw:
 * garbage gives `undefined` and, through `onWarning`, a message the caller logs.
 */

export type ProcWarning = (message: string, details: Record<string, unknown>) => void;

/**
 * The host's /proc as seen through the host root. When the host root has no proc tree (the module
 * mounts / read-only without /proc), plain /proc is used: with `pid: host` it is the host's.
 */
export function resolveProcRoot(hostRoot: string): string {
  let candidate: string;
  try {
    candidate = hostPath(hostRoot, '/proc');
  } catch {
    return '/proc';
  }
  if (candidate === '/proc' || existsSync(path.join(candidate, 'self')) || listPids(candidate).length > 0) return candidate;
  return '/proc';
}

export interface ProcStat {
  pid: number;
  /** The kernel's 15-character task name (field 2, without parentheses). */
  comm: string;
  state: string;
  ppid: number;
  /** Start time in clock ticks since boot (field 22): pid plus start time identifies a process. */
  startTime: number;
}

/** /proc/<pid>/stat. The name may contain spaces and ')' so it is cut at the LAST ')'. */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 1 || close < open) return undefined;
  const pid = toInt(text.slice(0, open).trim());
  const rest = text.slice(close + 1).trim().split(/\s+/);
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const state = rest[0];
  const ppid = toInt(rest[1]);
  const startTime = toInt(rest[19]);
  if (pid === undefined || ppid === undefined || startTime === undefined || !state || !/^[A-Za-z]$/.test(state)) return undefined;
  return { pid, comm: text.slice(open + 1, close), state, ppid, startTime };
}

export interface ProcStatus {
  name?: string;
  tgid?: number;
  ppid?: number;
  /** Real user id (first field of `Uid:`). */
  uid?: number;
  /** Effective user id (second field of `Uid:`), differs from uid for set-user-id programs. */
  euid?: number;
}

/** /proc/<pid>/status: only the lines EdgeGuard uses; malformed lines are ignored. */
export function parseStatus(text: string): ProcStatus {
  const out: ProcStatus = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    switch (key) {
      case 'Name':
        out.name = value;
        break;
      case 'Tgid':
        out.tgid = toInt(value);
        break;
      case 'PPid':
        out.ppid = toInt(value);
        break;
      case 'Uid': {
        const ids = value.split(/\s+/);
        out.uid = toInt(ids[0]);
        out.euid = toInt(ids[1]);
        break;
      }
    }
  }
  return out;
}

/** /proc/<pid>/cmdline: NUL-separated argv (a trailing NUL or not; processes may rewrite it). */
export function parseCmdline(raw: Buffer | string): string[] {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  const parts = text.split('\0');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** argv as one CommandLine string, the way Defender's agents send it: arguments joined by spaces. */
export function formatCommandLine(argv: readonly string[]): string {
  return argv.join(' ');
}

/** The exe link target; the kernel appends " (deleted)" when the file was removed, which is kept. */
export function readExecutable(procRoot: string, pid: number): string | undefined {
  try {
    return readlinkSync(path.join(procRoot, String(pid), 'exe'));
  } catch {
    return undefined; // gone, a kernel thread, or not permitted
  }
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Full path of the executable; undefined when /proc/<pid>/exe could not be read. */
  executable?: string;
  argv: string[];
  commandLine: string;
  uid?: number;
  euid?: number;
  comm: string;
  startTime: number;
}

const MAX_PROC_FILE_BYTES = 256 * 1024;

/**
 * Everything EdgeGuard needs about one process, or undefined when it is gone or its stat is garbage
 * (reported through onWarning). A process's executable or command line may be missing (kernel
 * threads, zombies, permissions); the rest is still returned.
 */
export function readProcessInfo(procRoot: string, pid: number, onWarning?: ProcWarning): ProcessInfo | undefined {
  const dir = path.join(procRoot, String(pid));
  const statText = readSmallFile(path.join(dir, 'stat'));
  if (statText === undefined) return undefined;
  const stat = parseStat(statText);
  if (!stat) {
    onWarning?.('unparsable /proc stat file, process skipped', { file: path.join(dir, 'stat') });
    return undefined;
  }
  const statusText = readSmallFile(path.join(dir, 'status'));
  const status = statusText === undefined ? {} : parseStatus(statusText);
  if (statusText !== undefined && status.uid === undefined) {
    onWarning?.('no readable Uid line in /proc status file', { file: path.join(dir, 'status') });
  }
  const cmdline = readSmallFile(path.join(dir, 'cmdline'), 'buffer');
  const argv = cmdline === undefined ? [] : parseCmdline(cmdline);
  return {
    pid,
    ppid: status.ppid ?? stat.ppid,
    executable: readExecutable(procRoot, pid),
    argv,
    commandLine: formatCommandLine(argv),
    uid: status.uid,
    euid: status.euid,
    comm: stat.comm,
    startTime: stat.startTime,
  };
}

/** Start time (clock ticks since boot) of a process, for pid-reuse checks; undefined if gone/garbage. */
export function readStartTime(procRoot: string, pid: number): number | undefined {
  const text = readSmallFile(path.join(procRoot, String(pid), 'stat'));
  return text === undefined ? undefined : parseStat(text)?.startTime;
}

/** Numeric entries of the proc root: the pids of all processes (thread group leaders). */
export function listPids(procRoot: string): number[] {
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of names) {
    if (/^[1-9]\d{0,9}$/.test(name)) pids.push(Number(name));
  }
  return pids;
}

function readSmallFile(file: string): string | undefined;
function readSmallFile(file: string, as: 'buffer'): Buffer | undefined;
function readSmallFile(file: string, as?: 'buffer'): string | Buffer | undefined {
  try {
    // Regular files only (a prepared or hostile tree may hold a FIFO), at most MAX_PROC_FILE_BYTES.
    const cut = readRegularPrefix(file, MAX_PROC_FILE_BYTES);
    return as === 'buffer' ? cut : cut.toString('utf8');
  } catch {
    return undefined;
  }
}

function toInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}
