import { readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { parseCmdline, parseStat } from '../common/process-info';

/**
 * Context of a new process, read from /proc at exec time and carried in ProcessCreate's ExtraDetails
 * under these names (the eBPF source fills the same): ParentExecutable, ParentCommandLine,
 * AncestorExecutables (comma-separated, nearest first, up to 5), Cwd, Tty, ContainerId (64 hex, from
 * the cgroup), StdinType and StdoutType (tcp, udp, unix, pipe, tty, file, null, other). What cannot be
 * read (the process is gone, permissions) is left out.
 */
export type ExecContext = Record<string, string>;

export const MAX_ANCESTORS = 5;
const MAX_COMMAND_LINE = 1024;
const MAX_SMALL_FILE = 64 * 1024;
const MAX_NET_TABLE = 4 * 1024 * 1024;

function readSmall(file: string, limit = MAX_SMALL_FILE): Buffer | undefined {
  try {
    const buf = readFileSync(file);
    return buf.length > limit ? buf.subarray(0, limit) : buf;
  } catch {
    return undefined;
  }
}

function link(file: string): string | undefined {
  try {
    return readlinkSync(file);
  } catch {
    return undefined;
  }
}

/** tty_nr of /proc/<pid>/stat (field 7) as a device name: pts/3, tty1, ttyS0, ttyAMA0, ttyUSB0, console. */
export function ttyName(ttyNr: number): string | undefined {
  if (!(ttyNr > 0)) return undefined;
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${(major - 136) * 256 + minor}`;
  if (major === 4) return minor < 64 ? `tty${minor}` : `ttyS${minor - 64}`;
  if (major === 5 && minor === 1) return 'console';
  if (major === 204 && minor >= 64) return `ttyAMA${minor - 64}`;
  if (major === 188) return `ttyUSB${minor}`;
  if (major === 166) return `ttyACM${minor}`;
  return `tty(${major}:${minor})`;
}

function statFields(procRoot: string, pid: number): { ppid: number; ttyNr: number } | undefined {
  const text = readSmall(path.join(procRoot, String(pid), 'stat'))?.toString('utf8');
  if (text === undefined) return undefined;
  const stat = parseStat(text);
  if (!stat) return undefined;
  const rest = text.slice(text.lastIndexOf(')') + 1).trim().split(/\s+/);
  return { ppid: stat.ppid, ttyNr: Number(rest[4]) };
}

/** The container ID in a /proc/<pid>/cgroup text (docker, containerd, cri-o, podman layouts). */
export function containerIdFromCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /(?:docker|containerd|crio|libpod|moby)[-/:]?([0-9a-f]{64})/.exec(line) ?? /\/([0-9a-f]{64})(?:\.scope)?$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * The socket tables, unix first: a socket inode is in one table only, and most stdio sockets are unix
 * ones (the socketpairs a parent spawns its children with, journald's stream for services), so the
 * TCP tables — costly for the kernel to list on a busy host — are rarely read.
 */
const SOCKET_TABLES = [
  ['unix', 'unix'],
  ['tcp', 'tcp'],
  ['tcp6', 'tcp'],
  ['udp', 'udp'],
  ['udp6', 'udp'],
] as const;

/** Which socket table of the process's network namespace holds an inode; `tables` keeps what was read for the next lookup. */
function socketKind(procRoot: string, pid: number, inode: string, tables: Map<string, string | undefined>): string {
  for (const [table, kind] of SOCKET_TABLES) {
    if (!tables.has(table)) tables.set(table, readSmall(path.join(procRoot, String(pid), 'net', table), MAX_NET_TABLE)?.toString('latin1'));
    const text = tables.get(table);
    // Not even the digits anywhere: no need to split the table into columns.
    if (text === undefined || !text.includes(inode)) continue;
    for (const line of text.split('\n')) {
      const cols = line.trim().split(/\s+/);
      const col = kind === 'unix' ? cols[6] : cols[9];
      if (col === inode) return kind;
    }
  }
  return 'other';
}

/** What a file descriptor's link says it is. */
export function fdType(target: string | undefined, socketLookup: (inode: string) => string): string | undefined {
  if (target === undefined) return undefined;
  const socket = /^socket:\[(\d+)\]$/.exec(target);
  if (socket) return socketLookup(socket[1]!);
  if (target.startsWith('pipe:')) return 'pipe';
  if (target === '/dev/null') return 'null';
  if (/^\/dev\/(pts\/\d+|tty\w*|console)$/.test(target)) return 'tty';
  if (target.startsWith('/')) return 'file';
  return 'other';
}

export function readExecContext(procRoot: string, pid: number, ppid: number | undefined, knownExecutable?: (pid: number) => string | undefined): ExecContext {
  const ctx: ExecContext = {};
  const dir = path.join(procRoot, String(pid));
  if (ppid !== undefined && ppid > 0) {
    const parentExe = link(path.join(procRoot, String(ppid), 'exe')) ?? knownExecutable?.(ppid);
    if (parentExe !== undefined) ctx.ParentExecutable = parentExe;
    const cmd = readSmall(path.join(procRoot, String(ppid), 'cmdline'));
    if (cmd !== undefined && cmd.length > 0) ctx.ParentCommandLine = parseCmdline(cmd).join(' ').slice(0, MAX_COMMAND_LINE);
    const ancestors: string[] = [];
    let current = ppid;
    for (let i = 0; i < MAX_ANCESTORS && current > 0; i++) {
      const exe = link(path.join(procRoot, String(current), 'exe')) ?? knownExecutable?.(current);
      const next = statFields(procRoot, current)?.ppid;
      if (exe === undefined && next === undefined) break; // gone
      ancestors.push(exe ?? '?');
      if (current === 1) break;
      if (next === undefined || next === current) break;
      current = next;
    }
    if (ancestors.length > 0) ctx.AncestorExecutables = ancestors.map((a) => a.replace(/,/g, '%2C')).join(',');
  }
  const cwd = link(path.join(dir, 'cwd'));
  if (cwd !== undefined) ctx.Cwd = cwd;
  const tty = ttyName(statFields(procRoot, pid)?.ttyNr ?? 0);
  if (tty !== undefined) ctx.Tty = tty;
  const cgroup = readSmall(path.join(dir, 'cgroup'))?.toString('utf8');
  const containerId = cgroup === undefined ? undefined : containerIdFromCgroup(cgroup);
  if (containerId !== undefined) ctx.ContainerId = containerId;
  return { ...ctx, ...readStdioTypes(procRoot, pid) };
}

/**
 * StdinType and StdoutType of a process, from its fd 0 and fd 1 links (and, for a socket, the socket
 * tables of its network namespace). Also used by the kernel sensor, whose exec records lack them.
 */
export function readStdioTypes(procRoot: string, pid: number): ExecContext {
  const ctx: ExecContext = {};
  const dir = path.join(procRoot, String(pid));
  const tables = new Map<string, string | undefined>();
  const lookup = (inode: string): string => socketKind(procRoot, pid, inode, tables);
  const stdin = fdType(link(path.join(dir, 'fd', '0')), lookup);
  if (stdin !== undefined) ctx.StdinType = stdin;
  const stdout = fdType(link(path.join(dir, 'fd', '1')), lookup);
  if (stdout !== undefined) ctx.StdoutType = stdout;
  return ctx;
}
