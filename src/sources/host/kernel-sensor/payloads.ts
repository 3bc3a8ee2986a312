import { constants } from 'node:os';
import type { PayloadItem } from '../../../core/event';
import { decodeWaitStatus, processCreatePayload, processTerminatePayload } from '../process-events/process-payloads';
import type { SensorEnrichment } from './context';
import type { ExecRecord, ExitRecord, FileRecord, NetRecord } from './records';

/** Payload items built from kernel sensor records (Microsoft's fields first, EdgeGuard's context in ExtraDetails). */

const ANCESTORS = 5;
const CONTEXT_COMMAND_LINE_LIMIT = 1024;
const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, num]) => [num, name]));

function errnoName(result: number): string {
  return ERRNO_NAMES.get(-result) ?? String(result);
}

function cut(s: string, limit: number): string {
  return s.length > limit ? s.slice(0, limit) : s;
}

function addExtra(item: PayloadItem, extra: Record<string, string>): PayloadItem {
  if (Object.keys(extra).length === 0) return item;
  const existing = (item.ExtraDetails ?? {}) as Record<string, string>;
  item.ExtraDetails = { ...existing, ...extra };
  return item;
}

export function processCreateFromExec(rec: ExecRecord, enrich: SensorEnrichment, userName: string | undefined): PayloadItem {
  const item = processCreatePayload({
    pid: rec.pid,
    ppid: rec.ppid,
    executable: rec.executable || undefined,
    argv: rec.argv,
    uid: rec.uid,
    euid: rec.euid,
    userName,
    comm: rec.comm || undefined,
    commandLineTruncated: rec.argvTruncated,
  });
  const extra: Record<string, string> = {};
  const parent = enrich.processes.get(rec.ppid);
  if (parent?.executable) extra.ParentExecutable = parent.executable;
  // Redacted by the pipeline like CommandLine (transforms/command-line-secrets.ts).
  if (parent?.commandLine) extra.ParentCommandLine = cut(parent.commandLine, CONTEXT_COMMAND_LINE_LIMIT);
  const ancestors = enrich.processes.ancestors(rec.ppid, ANCESTORS);
  if (ancestors.length > 0) extra.AncestorExecutables = ancestors.join(',');
  if (rec.cwd) extra.Cwd = rec.cwd;
  if (rec.tty) extra.Tty = rec.tty;
  if (rec.argvTruncated) extra.CommandLineBytes = String(rec.argvBytes);
  return addExtra(item, { ...extra, ...enrich.container(rec) });
}

export function processTerminateFromExit(rec: ExitRecord, executable: string | undefined, enrich: SensorEnrichment): PayloadItem {
  const item = processTerminatePayload({ pid: rec.pid, executable, comm: rec.comm || undefined, exit: decodeWaitStatus(rec.waitStatus) });
  return addExtra(item, enrich.container(rec));
}

interface Owner {
  executable: string;
  commandLine?: string;
  missing: string[];
}

/** Ends the payload of a process's act: its command line, the details, what was missing, its container. */
function withOwner(item: PayloadItem, owner: Owner, extra: Record<string, string>, rec: NetRecord | FileRecord, enrich: SensorEnrichment): PayloadItem {
  if (owner.commandLine !== undefined) item.CommandLine = owner.commandLine;
  if (owner.missing.length > 0) extra.MissingFields = owner.missing.join(',');
  return addExtra(item, { ...extra, ...enrich.container(rec) });
}

function ownerOf(rec: NetRecord | FileRecord, enrich: SensorEnrichment): Owner {
  const known = enrich.processes.get(rec.pid);
  const missing: string[] = [];
  let executable = known?.executable;
  if (!executable) {
    missing.push('Executable');
    executable = rec.comm ? `[${rec.comm}]` : '';
  }
  if (!known?.commandLine) missing.push('CommandLine');
  return { executable, ...(known?.commandLine ? { commandLine: known.commandLine } : {}), missing };
}

/** ConnectionCreate (Microsoft's schema) from a connect or accept record. */
export function connectionFromNet(rec: NetRecord, enrich: SensorEnrichment): PayloadItem {
  const owner = ownerOf(rec, enrich);
  const item: PayloadItem = {
    RemoteAddress: rec.remoteAddress,
    RemotePort: String(rec.remotePort),
    LocalAddress: rec.localAddress,
    LocalPort: String(rec.localPort),
    Direction: rec.type === 'accept' ? 'In' : 'Out',
    Protocol: 'TCP',
    ProcessId: rec.pid,
    UserId: String(rec.uid),
    Executable: owner.executable,
  };
  const extra: Record<string, string> = {};
  // A non-blocking connect returns EINPROGRESS: the handshake is under way, its outcome not known here.
  if (rec.type === 'connect' && rec.result !== 0) extra.Result = errnoName(rec.result);
  return withOwner(item, owner, extra, rec, enrich);
}

/** PortListen (EdgeGuard's schema) from a listen or bind record. */
export function portListenFromNet(rec: NetRecord, enrich: SensorEnrichment): PayloadItem {
  const owner = ownerOf(rec, enrich);
  const item: PayloadItem = {
    Operation: rec.type === 'listen' ? 'Listen' : 'Bind',
    Result: rec.result === 0 ? 'OK' : errnoName(rec.result),
    LocalAddress: rec.localAddress,
    LocalPort: String(rec.localPort),
    Protocol: 'TCP',
    ProcessId: rec.pid,
    UserId: String(rec.uid),
    Executable: owner.executable,
  };
  const extra: Record<string, string> = {};
  if (rec.type === 'listen') extra.Backlog = String(rec.backlog);
  return withOwner(item, owner, extra, rec, enrich);
}

/** FileOperation (EdgeGuard's schema). */
export function fileOperationPayload(rec: FileRecord, enrich: SensorEnrichment): PayloadItem {
  const owner = ownerOf(rec, enrich);
  const item: PayloadItem = {
    Operation: rec.operation,
    Path: rec.path,
    ProcessId: rec.pid,
    ParentProcessId: rec.ppid,
    UserId: String(rec.uid),
    Executable: owner.executable,
  };
  if (rec.targetPath !== undefined) item.TargetPath = rec.targetPath;
  const extra: Record<string, string> = {};
  if (rec.euid !== rec.uid) extra.EffectiveUserId = String(rec.euid);
  if (rec.pathTruncated) extra.PathTruncated = 'true';
  return withOwner(item, owner, extra, rec, enrich);
}
