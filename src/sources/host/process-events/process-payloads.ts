import { constants } from 'node:os';
import type { PayloadItem } from '../../../core/event';

/**
 * ProcessCreate / ProcessTerminate payload items with exactly the fields of Microsoft's schemas
 * (messageEventSecurityProcessCreate_v1_0.json, ...ProcessTerminate_v1_0.json). What could not be
 * read (the process was gone first) is filled with "" / -1 and named in ExtraDetails.MissingFields.
 */

export interface ObservedProcess {
  pid: number;
  ppid?: number;
  executable?: string;
  argv?: readonly string[];
  uid?: number;
  euid?: number;
  userName?: string;
  /** Kernel task name, used in brackets as Executable when the exe link could not be read. */
  comm?: string;
  commandLineTruncated?: boolean;
  /** ppid is the parent at exit (from the exit event), not read at exec: the process was gone first. */
  ppidAtExit?: boolean;
  /** Exec-time context (exec-context.ts), added to ExtraDetails. */
  context?: Record<string, string>;
}

export function processCreatePayload(p: ObservedProcess): PayloadItem {
  const missing: string[] = [];
  const argv = p.argv ?? [];
  let executable = p.executable;
  if (executable === undefined) {
    missing.push('Executable');
    executable = p.comm ? `[${p.comm}]` : '';
  }
  let commandLine = argv.join(' ');
  if (argv.length === 0) {
    missing.push('CommandLine');
    commandLine = p.executable ?? '';
  }
  if (p.ppid === undefined || p.ppid < 0) missing.push('ParentProcessId');
  if (p.uid === undefined || p.uid < 0) missing.push('UserId');
  const item: PayloadItem = {
    Executable: executable,
    ProcessId: p.pid,
    ParentProcessId: p.ppid !== undefined && p.ppid >= 0 ? p.ppid : -1,
    UserId: p.uid !== undefined && p.uid >= 0 ? String(p.uid) : '',
    CommandLine: commandLine,
  };
  if (p.userName !== undefined) item.UserName = p.userName;
  const extra: Record<string, string> = { ...p.context };
  if (p.euid !== undefined && p.euid >= 0 && p.uid !== undefined && p.euid !== p.uid) extra.EffectiveUserId = String(p.euid);
  if (p.commandLineTruncated) extra.CommandLineTruncated = 'true';
  if (p.ppidAtExit && p.ppid !== undefined && p.ppid >= 0) extra.ParentProcessIdAtExit = 'true';
  if (missing.length > 0) extra.MissingFields = missing.join(',');
  if (Object.keys(extra).length > 0) item.ExtraDetails = extra;
  return item;
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, num]) => [num, name]));

export interface DecodedExit {
  /** Exit code, or 128 + signal for a process killed by a signal (the shell's convention). */
  exitStatus: number;
  signal?: number;
  coreDumped?: boolean;
}

/** Decodes a wait(2) status as the proc connector reports it. */
export function decodeWaitStatus(waitStatus: number): DecodedExit {
  const signal = waitStatus & 0x7f;
  if (signal === 0) return { exitStatus: (waitStatus >> 8) & 0xff };
  return { exitStatus: 128 + signal, signal, coreDumped: (waitStatus & 0x80) !== 0 };
}

export interface TerminatedProcess {
  pid: number;
  executable?: string;
  comm?: string;
  /** undefined when the exit status is not known (the /proc polling fallback cannot see it). */
  exit?: DecodedExit;
}

export function processTerminatePayload(p: TerminatedProcess): PayloadItem {
  const missing: string[] = [];
  let executable = p.executable;
  if (executable === undefined) {
    missing.push('Executable');
    executable = p.comm ? `[${p.comm}]` : '';
  }
  if (p.exit === undefined) missing.push('ExitStatus');
  const item: PayloadItem = { Executable: executable, ProcessId: p.pid, ExitStatus: p.exit?.exitStatus ?? -1 };
  const extra: Record<string, string> = {};
  if (p.exit?.signal !== undefined) {
    extra.TerminationSignal = SIGNAL_NAMES.get(p.exit.signal) ?? String(p.exit.signal);
    if (p.exit.coreDumped) extra.CoreDumped = 'true';
  }
  if (missing.length > 0) extra.MissingFields = missing.join(',');
  if (Object.keys(extra).length > 0) item.ExtraDetails = extra;
  return item;
}
