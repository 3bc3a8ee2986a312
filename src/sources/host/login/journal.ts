import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { hostPath } from '../../../core/host-root';

/**
 * sshd's lines from the host's systemd journal, for hosts that log sshd only to journald (Debian 12
 * and many gateway images have no auth.log).
 *
 * Read with `journalctl --directory=<host root>/var/log/journal -o json`, not with a parser of our own:
 * journal files are binary, with per-field compression (xz, lz4, zstd), hash tables, entry arrays and
 * format variants that changed across systemd versions (compact mode, keyed hash); journalctl is the
 * maintained reader of exactly that format, and its cursors are rotation-safe by design (a cursor
 * names an entry by journal seqnum id and number, boot and time, so archived and vacuumed files do
 * not move it). Cost: the runtime image carries journalctl (Debian package systemd).
 *
 * Bounded: one journalctl at a time, killed after TIMEOUT_MS, at most MAX_OUTPUT_BYTES of output per
 * read (a backlog is worked off over the next reads: the cursor moves to the last complete entry
 * read), MESSAGE fields longer than MAX_MESSAGE are cut. Only sshd's entries are asked for.
 */

const TIMEOUT_MS = 10_000;
const MAX_OUTPUT_BYTES = 2 * 1024 * 1024;
const MAX_MESSAGE = 2048;
/**
 * sshd's process names (OpenSSH ≥ 9.8 splits off sshd-session and sshd-auth), matched on _COMM:
 * a field journald sets from the kernel. SYSLOG_IDENTIFIER is the client's to choose (`logger -t sshd`
 * lets any local user write it), so it is never trusted here.
 */
const COMMANDS = ['sshd', 'sshd-session', 'sshd-auth'];

export interface JournalLine {
  /** A syslog-style line "RFC3339 host ident[pid]: message", as parseSshdLine reads auth.log. */
  line: string;
  cursor: string;
}

export interface JournalRead {
  lines: JournalLine[];
  /** Cursor of the last entry read (undefined when none was). */
  cursor?: string;
  /** The output was cut at MAX_OUTPUT_BYTES: more entries wait. */
  more: boolean;
}

/** The host's persistent journal directory (or the volatile one), through the host root; undefined when there is none. */
export function findJournalDirectory(hostRoot: string, configured: readonly string[]): string | undefined {
  for (const dir of configured) {
    try {
      // Confined to the host root: a setting or a link cannot lead journalctl out of it.
      const full = hostPath(hostRoot, dir);
      // journald keeps files in a machine-id subdirectory; journalctl --directory also reads files directly in it.
      if (existsSync(full) && readdirSync(full).length > 0) return full;
    } catch {
      // not readable: try the next
    }
  }
  return undefined;
}

function field(entry: Record<string, unknown>, name: string): string | undefined {
  const v = entry[name];
  // journalctl prints binary fields as arrays of bytes.
  if (Array.isArray(v)) return Buffer.from(v.filter((b): b is number => typeof b === 'number')).toString('utf8');
  return typeof v === 'string' ? v : undefined;
}

/** One journalctl JSON line -> a syslog-style line, or undefined when it is not usable. */
export function journalEntryLine(json: string): JournalLine | undefined {
  let entry: unknown;
  try {
    entry = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return undefined;
  const e = entry as Record<string, unknown>;
  const cursor = field(e, '__CURSOR');
  if (!cursor) return undefined;
  const message = (field(e, 'MESSAGE') ?? '').slice(0, MAX_MESSAGE).replace(/[\r\n]+/g, ' ');
  // Trusted fields only (journald's own, from the kernel): see COMMANDS.
  const ident = field(e, '_COMM') ?? '';
  const pid = field(e, '_PID') ?? '0';
  const host = (field(e, '_HOSTNAME') ?? '-').replace(/\s+/g, '') || '-';
  const micros = Number(field(e, '__REALTIME_TIMESTAMP') ?? '0');
  const time = Number.isFinite(micros) && micros > 0 ? new Date(Math.floor(micros / 1000)).toISOString() : new Date(0).toISOString();
  if (!COMMANDS.includes(ident) || !/^\d+$/.test(pid)) return { line: '', cursor };
  return { line: `${time} ${host} ${ident}[${pid}]: ${message}`, cursor };
}

export type JournalctlRunner = (args: string[]) => Promise<{ stdout: string; truncated: boolean; error?: string }>;

/** Runs journalctl with a timeout and an output cap (what is read up to the cap is kept). */
export const runJournalctl: JournalctlRunner = (args) =>
  new Promise((resolve) => {
    execFile('journalctl', args, { timeout: TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8', windowsHide: true }, (err, stdout) => {
      if (!err) return resolve({ stdout, truncated: false });
      const code = (err as NodeJS.ErrnoException & { code?: string | number }).code;
      if (code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return resolve({ stdout, truncated: true });
      resolve({ stdout, truncated: false, error: code === 'ENOENT' ? 'journalctl not found (Debian package systemd)' : err.message.split('\n')[0] });
    });
  });

/**
 * Entries after `cursor`; without one, only entries from `since` on (the first start) or from the
 * journal's start (`since` undefined).
 */
export async function readJournal(dir: string, cursor: string | undefined, since: Date | undefined, run: JournalctlRunner = runJournalctl): Promise<JournalRead & { error?: string }> {
  const args = ['--directory', dir, '--output', 'json', '--no-pager', '--quiet'];
  if (cursor) args.push('--after-cursor', cursor);
  else if (since) args.push('--since', `@${Math.floor(since.getTime() / 1000)}`);
  for (const comm of COMMANDS) args.push(`_COMM=${comm}`);
  const out = await run(args);
  const lines: JournalLine[] = [];
  const text = out.stdout;
  // Only complete lines: a cut output ends in a partial one.
  const end = out.truncated ? text.lastIndexOf('\n') + 1 : text.length;
  for (const json of text.slice(0, end).split('\n')) {
    if (json.trim() === '') continue;
    const line = journalEntryLine(json);
    if (line) lines.push(line);
  }
  return { lines, cursor: lines.length > 0 ? lines[lines.length - 1]!.cursor : cursor, more: out.truncated, ...(out.error ? { error: out.error } : {}) };
}
