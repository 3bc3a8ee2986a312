import type { SettingDefinition } from '../../config/settings';
import path from 'node:path';
import { createEvent, type PayloadItem } from '../../core/event';
import { hostPath } from '../../core/host-root';
import { UnsafeFileError } from '../../core/safe-read';
import type { Source, SourceContext, SourceDefinition, SourceStatus } from '../source';
import { LocalAccountNames } from './accounts/account-files';
import { CursorStore, markAt, readNew, readRange, type CursorMap, type FileCursor, type ReadChunk } from './login/file-cursor';
import { inferredExecutable, isLoginRecord, sshdLoginItem, utmpLoginItem } from './login/login-items';
import { parseSshdLine, type SshdLogin } from './login/sshd-log';
import { findJournalDirectory } from './login/journal';
import { JournalFollower } from './login/journal-follower';
import { QuietFiles } from './login/quiet-files';
import { existsSync } from 'node:fs';
import { detectRecordSize, parseUtmpRecords, type UtmpRecord, type UtmpRecordSize } from './login/utmp';
import { readExecutable, resolveProcRoot } from './common/process-info';
import { errorCode } from '../../core/error-text';
import { defineEventType } from '../../core/event-types';

export const LOGIN_EVENT = 'Login';
export const LOGIN = defineEventType({ name: LOGIN_EVENT, category: 'Triggered', defaultPriority: 'High', schema: 'official' });
export { SSHD_EXECUTABLE } from './login/login-items';

/** Bytes read from one file per poll; a backlog is worked off over the following polls. */
const MAX_BYTES_PER_POLL = 1 << 20;
/** Payload items per Login event: one event per poll keeps a brute-force burst cheap, this keeps it under the message size. */
const MAX_ITEMS_PER_EVENT = 32;
/** sshd connections whose "Invalid user" line was reported, so their closing line is not reported again. */
const INVALID_USER_MEMORY = 1024;
/** Items for one rsyslog "message repeated N times" line; beyond it ExtraDetails.Repeated tells the count. */
const MAX_REPEATS = 100;
const REDACTED_USER = '(unknown)';
/** Bytes of text before the offset that identify the file's content (see FileCursor.mark). */
const TEXT_MARK_BYTES = 64;
/** A utmp record younger than this names a pid that is most likely still the login's process. */
const FRESH_RECORD_MS = 60_000;

const SETTINGS: readonly SettingDefinition[] = [
  { name: 'loginPollInterval', type: 'duration', default: 'PT2S', description: 'How often wtmp, btmp and the sshd log files are checked for new records (short enough for login alerts to go upstream within 5 s).' },
  {
    name: 'loginReadExistingRecords',
    type: 'boolean',
    default: false,
    description:
      'On the very first start (no saved offsets), also report the records already in the files. Off: start at their end, so a device does not send its whole login history. After that, saved offsets decide.',
  },
  { name: 'loginWtmpFile', type: 'string', default: '/var/log/wtmp', description: 'Host path of wtmp (successful logins); empty to skip.' },
  { name: 'loginBtmpFile', type: 'string', default: '/var/log/btmp', description: 'Host path of btmp (failed logins); empty to skip.' },
  {
    name: 'loginRedactUnknownUserNames',
    type: 'boolean',
    default: true,
    description:
      'Send "(unknown)" instead of the user name of a failed login whose name is no local account: people sometimes type their password at the user prompt, and EdgeGuard never sends a secret it found. Off sends the names attackers try, as Defender does.',
  },
  {
    name: 'loginAuthLogFiles',
    type: 'stringList',
    default: ['/var/log/auth.log', '/var/log/secure'],
    description: 'Host paths of syslog files with sshd lines (Debian/Ubuntu auth.log, RHEL secure); those that exist are followed.',
  },
  {
    name: 'loginJournal',
    type: 'enum',
    default: 'auto',
    values: ['auto', 'on', 'off'],
    description:
      "sshd's entries in the host's systemd journal (read with journalctl through the host root, rotation-safe cursor): auto (when none of loginAuthLogFiles exists, as on Debian 12), on (as well as the files), off.",
  },
  {
    name: 'loginJournalDirectories',
    type: 'stringList',
    default: ['/var/log/journal', '/run/log/journal'],
    description: 'Host paths of journal directories; the first that exists and is not empty is read.',
  },
];

type FileKind = 'wtmp' | 'btmp' | 'authlog';

interface FollowedFile {
  kind: FileKind;
  /** Host path, as configured: the key of its saved cursor. */
  hostFile: string;
  /** Path through the host root. */
  file: string;
}

/** Why a followed file cannot be read: the safe reader's sentence (a FIFO, a device…), else the errno code. */
function readProblem(err: unknown): string {
  return err instanceof UnsafeFileError ? err.message : errorCode(err);
}

/** The followed file's path under the host root, confined to it (no `..` or symbolic link out of it). */
function followedPath(hostRoot: string, hostFile: string): string {
  try {
    return hostPath(hostRoot, hostFile);
  } catch {
    // A link loop: a path that fails the same way when read, reported by poll().
    return path.join(hostRoot, path.posix.resolve('/', hostFile));
  }
}

/** A key for "warn once": the same incomplete record is seen on every poll until it is completed. */
function onceKey(...parts: Array<string | number>): string {
  return parts.join(':');
}

class LoginCollector implements Source {
  private readonly files: FollowedFile[];
  private readonly store: CursorStore;
  private cursors: CursorMap = {};
  private readonly procRoot: string;
  private readonly warned = new Set<string>();
  private readonly invalidUserReported = new Set<string>();
  private timer?: NodeJS.Timeout;
  private polling = false;
  private lastStatus = '';
  private savedCursors = '';
  /** A cursor changed since the last save. */
  private cursorsChanged = true;
  /** Files unchanged since their last complete read: a poll skips reading and hashing them. */
  private readonly quiet = new QuietFiles();
  private stopped = false;
  private readonly redactUnknown: boolean;
  private readonly localNames: LocalAccountNames;
  private readonly journal?: { follower: JournalFollower; source: FollowedFile };
  private journalProblem: string | undefined;

  constructor(private readonly ctx: SourceContext) {
    const c = ctx.config;
    const candidates: Array<[FileKind, string]> = [
      ['wtmp', c.string('loginWtmpFile')],
      ['btmp', c.string('loginBtmpFile')],
      ...c.stringList('loginAuthLogFiles').map((f): [FileKind, string] => ['authlog', f]),
    ];
    this.files = candidates.filter(([, f]) => f !== '').map(([kind, hostFile]) => ({ kind, hostFile, file: followedPath(ctx.hostRoot, hostFile) }));
    this.store = new CursorStore(ctx.stateDir, 'login-cursors.json');
    this.procRoot = resolveProcRoot(ctx.hostRoot);
    this.redactUnknown = c.boolean('loginRedactUnknownUserNames');
    this.localNames = new LocalAccountNames(ctx.hostRoot);
    this.journal = this.journalFollower();
  }

  /** The journal follower, when loginJournal asks for it and a journal directory exists. */
  private journalFollower(): { follower: JournalFollower; source: FollowedFile } | undefined {
    const mode = this.ctx.config.has('loginJournal') ? this.ctx.config.string('loginJournal') : 'off';
    if (mode === 'off') return undefined;
    if (mode === 'auto' && this.files.some((f) => f.kind === 'authlog' && existsSync(f.file))) return undefined;
    const directory = findJournalDirectory(this.ctx.hostRoot, this.ctx.config.stringList('loginJournalDirectories'));
    if (!directory) return undefined;
    const source: FollowedFile = { kind: 'authlog', hostFile: `journal:${path.relative(this.ctx.hostRoot, directory) || '.'}`, file: directory };
    const follower = new JournalFollower({
      directory,
      stateDir: this.ctx.stateDir,
      readExisting: this.ctx.config.boolean('loginReadExistingRecords'),
      onLines: (lines) => this.consumeJournal(source, lines),
      onProblem: (problem) => {
        if (problem && problem !== this.journalProblem) this.ctx.log.warn('login journal', { problem });
        this.journalProblem = problem;
      },
    });
    return { follower, source };
  }

  /** Journal lines (already syslog-shaped) -> Login events, as auth.log lines are. */
  private consumeJournal(source: FollowedFile, lines: string[]): void {
    if (this.stopped) return;
    const items: PayloadItem[] = [];
    for (const line of lines) {
      const login = parseSshdLine(line);
      const item = login ? this.sshdItem(source, login) : undefined;
      if (item) items.push(item);
    }
    for (let i = 0; i < items.length; i += MAX_ITEMS_PER_EVENT) {
      this.ctx.emit(createEvent(LOGIN_EVENT, 'Triggered', items.slice(i, i + MAX_ITEMS_PER_EVENT)));
    }
  }

  private methodName(): string {
    return this.journal ? `file polling, and sshd's journal entries through journalctl (${this.journal.source.hostFile})` : 'file polling';
  }

  /** Reads the journal now (tests); resolves when its lines were handled. */
  async pollJournal(): Promise<void> {
    await this.journal?.follower.poll();
  }

  start(): void {
    const loaded = this.store.load();
    if (loaded.error) this.ctx.log.warn('saved login file offsets unreadable, starting as on a first start', { error: loaded.error });
    this.cursors = loaded.cursors ?? {};
    const readExisting = this.ctx.config.boolean('loginReadExistingRecords');
    for (const f of this.files) {
      if (!this.cursors[f.hostFile]) this.cursors[f.hostFile] = this.withMarkIfReadable(f, this.initialCursor(f, readExisting));
    }
    this.saveCursors();
    this.poll();
    const interval = this.ctx.config.durationMs('loginPollInterval');
    this.timer = setInterval(() => this.poll(), interval);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** Without a saved cursor: the file's end (or start, when asked), or "from the start once it appears". */
  private initialCursor(f: FollowedFile, readExisting: boolean): FileCursor {
    try {
      const { stat } = readNew(f.file, { ino: 0, offset: 0 }, 0);
      if (!stat) return { ino: 0, offset: 0 };
      if (readExisting) return { ino: stat.ino, offset: 0 };
      if (f.kind === 'authlog') return { ino: stat.ino, offset: stat.size };
      const recordSize = detectRecordSize(stat.size, (p, l) => readRange(f.file, p, l));
      if (!recordSize) return { ino: stat.ino, offset: 0 };
      return { ino: stat.ino, offset: stat.size - (stat.size % recordSize), recordSize };
    } catch (err) {
      // Unreadable now: treat as not yet seen; poll() reports the reason in the status.
      this.ctx.log.warn('login file not readable', { file: f.hostFile, error: readProblem(err) });
      return { ino: 0, offset: 0 };
    }
  }

  /** One pass over all files; public for tests, which call it instead of waiting for the timer. */
  poll(): void {
    if (this.polling || this.stopped) return;
    this.polling = true;
    const items: PayloadItem[] = [];
    const problems: string[] = [];
    const found = new Set<FileKind>();
    try {
      for (const f of this.files) {
        try {
          // Resolved on every poll: a symbolic link on the host may change.
          f.file = hostPath(this.ctx.hostRoot, f.hostFile);
          const before = this.cursors[f.hostFile] ?? { ino: 0, offset: 0 };
          const statAt = Date.now();
          const result = readNew(f.file, before, MAX_BYTES_PER_POLL, (st) => this.quiet.unchanged(f.hostFile, f.file, st));
          if (!result.stat) {
            this.quiet.forget(f.hostFile);
            problems.push(`${f.hostFile} not found`);
            continue;
          }
          found.add(f.kind);
          if (result.unchanged) continue;
          for (const note of result.notes) {
            if (note.kind === 'rotated') this.ctx.log.info('login file rotated', { file: f.hostFile, finishedPrevious: note.finishedPrevious });
            else this.ctx.log.warn('login file truncated, reading it from the start', { file: f.hostFile, previousOffset: note.previousOffset, size: note.size });
          }
          let cursor = result.cursor;
          for (const chunk of result.chunks) {
            const consumed: { bytes: number; recordSize?: UtmpRecordSize } = f.kind === 'authlog' ? this.consumeLog(f, chunk, items) : this.consumeUtmp(f, chunk, cursor, items);
            if (chunk.origin === 'current') cursor = { ...cursor, offset: chunk.position + consumed.bytes, ...(consumed.recordSize ? { recordSize: consumed.recordSize } : {}) };
          }
          this.cursors[f.hostFile] = this.withMarkIfReadable(f, cursor);
          this.cursorsChanged = true;
          this.quiet.record(f.hostFile, f.file, result.stat, !result.capped, statAt);
        } catch (err) {
          this.quiet.forget(f.hostFile);
          const code = readProblem(err);
          problems.push(`${f.hostFile}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code}`);
          const key = onceKey('read', f.hostFile, code);
          if (!this.warned.has(key)) {
            this.warned.add(key);
            this.ctx.log.warn('login file not readable', { file: f.hostFile, error: code });
          }
        }
      }
      for (let i = 0; i < items.length; i += MAX_ITEMS_PER_EVENT) {
        this.ctx.emit(createEvent(LOGIN_EVENT, 'Triggered', items.slice(i, i + MAX_ITEMS_PER_EVENT)));
      }
      this.saveCursors();
      if (this.journal) {
        void this.journal.follower.pollIfChanged();
        // The journal stands in for the missing auth.log: its absence is no problem then.
        if (!this.journalProblem) found.add('authlog');
        else problems.push(this.journalProblem);
      }
      this.updateStatus(found, problems);
    } finally {
      this.polling = false;
    }
  }

  /** The cursor with a fresh mark; without any when the file cannot be read (a stale one would misfire). */
  private withMarkIfReadable(f: FollowedFile, cursor: FileCursor): FileCursor {
    try {
      return this.withMark(f, cursor);
    } catch {
      const { mark: _mark, markLength: _length, ...rest } = cursor;
      return rest;
    }
  }

  private withMark(f: FollowedFile, cursor: FileCursor): FileCursor {
    const { mark: _mark, markLength: _length, ...rest } = cursor;
    // A whole utmp record: its last bytes are padding, the same in every record.
    const markLength = f.kind === 'authlog' ? TEXT_MARK_BYTES : (cursor.recordSize ?? 384);
    const mark = cursor.ino !== 0 ? markAt(f.file, cursor.offset, markLength) : undefined;
    return mark === undefined ? rest : { ...rest, mark, markLength };
  }

  private saveCursors(): void {
    if (!this.cursorsChanged) return;
    const text = JSON.stringify(this.cursors);
    if (text === this.savedCursors) {
      this.cursorsChanged = false;
      return;
    }
    try {
      this.store.save(this.cursors);
      this.savedCursors = text;
      this.cursorsChanged = false;
    } catch (err) {
      const key = onceKey('save', errorCode(err));
      if (!this.warned.has(key)) {
        this.warned.add(key);
        this.ctx.log.warn('cannot save login file offsets: records may be reported again after a restart', { error: errorCode(err) });
      }
    }
  }

  private updateStatus(found: Set<FileKind>, problems: string[]): void {
    const expected = new Set(this.files.map((f) => f.kind));
    // Only one of auth.log / secure exists on a given distribution: a missing one is no problem when another is there.
    const relevant = problems.filter((p) => !(found.has('authlog') && this.files.some((f) => f.kind === 'authlog' && p.startsWith(`${f.hostFile} not found`))));
    const missingKinds = [...expected].filter((k) => !found.has(k));
    let status: SourceStatus;
    if (found.size === 0) status = { state: 'degraded', reason: `no login record file readable: ${relevant.join('; ')}`, method: this.methodName() };
    else if (missingKinds.length > 0 || relevant.length > 0) status = { state: 'degraded', reason: relevant.join('; '), method: this.methodName() };
    else status = { state: 'running', method: this.methodName() };
    const text = JSON.stringify(status);
    if (text !== this.lastStatus) {
      this.lastStatus = text;
      this.ctx.setStatus(status);
    }
  }

  private consumeLog(f: FollowedFile, chunk: ReadChunk, items: PayloadItem[]): { bytes: number } {
    // Only complete lines, except at the end of a rotated file, which will not grow any more.
    const end = chunk.origin === 'rotated' ? chunk.data.length : chunk.data.lastIndexOf(0x0a) + 1;
    const text = chunk.data.subarray(0, end).toString('utf8');
    for (const line of text.split('\n')) {
      const login = parseSshdLine(line);
      if (login) {
        const item = this.sshdItem(f, login);
        // Each repeated attempt counts (brute-force detection counts Login events).
        if (item) for (let i = 0; i < Math.min(login.repeated, MAX_REPEATS); i++) items.push(i === 0 ? item : structuredClone(item));
      }
    }
    return { bytes: end };
  }

  private sshdItem(f: FollowedFile, login: SshdLogin): PayloadItem | undefined {
    const connection = `${login.pid}:${login.remote}:${login.port ?? ''}`;
    if (login.kind === 'invalid-user') {
      this.invalidUserReported.add(connection);
      if (this.invalidUserReported.size > INVALID_USER_MEMORY) this.invalidUserReported.delete(this.invalidUserReported.values().next().value as string);
    }
    // The closing line of a connection whose "Invalid user" line was seen adds nothing; without it
    // (the earlier line was before our start) it is the only trace of the attempt.
    if (login.kind === 'closed-invalid-user' && this.invalidUserReported.delete(connection)) return undefined;
    return sshdLoginItem(f.hostFile, login, this.userNameOf(login.user, login.kind !== 'accepted'));
  }

  private consumeUtmp(f: FollowedFile, chunk: ReadChunk, cursor: FileCursor, items: PayloadItem[]): { bytes: number; recordSize?: UtmpRecordSize } {
    const recordSize =
      (chunk.origin === 'current' && (cursor.recordSize === 384 || cursor.recordSize === 400) ? cursor.recordSize : undefined) ??
      detectRecordSize(chunk.position + chunk.data.length, (p, l) => readRange(chunk.file, p, l));
    if (!recordSize) {
      if (chunk.position + chunk.data.length >= 384) {
        const key = onceKey('layout', chunk.file, chunk.position + chunk.data.length);
        if (!this.warned.has(key)) {
          this.warned.add(key);
          this.ctx.log.warn('utmp file has no recognisable record layout (neither 384 nor 400 bytes), skipped', { file: f.hostFile, size: chunk.position + chunk.data.length });
        }
        // Skip it whole: a file of garbage must not be re-examined forever.
        return { bytes: chunk.origin === 'current' ? chunk.data.length : 0 };
      }
      return { bytes: 0 };
    }
    // A cursor not on a record boundary (the file was not ours to align) is realigned to the next record.
    const skip = (recordSize - (chunk.position % recordSize)) % recordSize;
    const { records, rest } = parseUtmpRecords(chunk.data.subarray(skip), recordSize);
    if (rest > 0) {
      const key = onceKey('rest', chunk.file, chunk.position + chunk.data.length);
      if (!this.warned.has(key)) {
        this.warned.add(key);
        this.ctx.log.warn(
          chunk.origin === 'rotated' ? 'incomplete final record in rotated utmp file ignored' : 'incomplete final utmp record, waiting for the rest of it',
          { file: chunk.file === f.file ? f.hostFile : `${f.hostFile}.1`, recordSize, bytes: rest },
        );
      }
    }
    for (const record of records) {
      const item = this.utmpItem(f, record);
      if (item) items.push(item);
    }
    return { bytes: skip + records.length * recordSize, recordSize };
  }

  private utmpItem(f: FollowedFile, record: UtmpRecord): PayloadItem | undefined {
    const success = f.kind === 'wtmp';
    if (!isLoginRecord(success, record)) return undefined;
    return utmpLoginItem(f.hostFile, success, record, this.userNameOf(record.user, !success), this.executableOf(record));
  }

  /** The name to send; a failed login's name that is no local account is redacted when configured. */
  private userNameOf(name: string, failed: boolean): string {
    if (!failed || !this.redactUnknown || this.localNames.current().has(name)) return name;
    return REDACTED_USER;
  }

  /** The login's process when the record is fresh (an old record's pid may belong to another process by now), else inferred. */
  private executableOf(record: UtmpRecord): { path: string; inferred: boolean } {
    const fresh = record.pid > 0 && Math.abs(Date.now() - record.time.getTime()) < FRESH_RECORD_MS;
    const live = fresh ? readExecutable(this.procRoot, record.pid) : undefined;
    return live ? { path: live, inferred: false } : { path: inferredExecutable(record), inferred: true };
  }
}

/** Source of Login events: wtmp (successes), btmp (failures) and sshd lines of the auth log. */
export const loginSource: SourceDefinition = {
  name: 'Logins',
  description: 'Successful and failed logins from wtmp, btmp and the sshd lines of auth.log/secure, followed across rotation.',
  events: [LOGIN],
  settings: SETTINGS,
  async start(ctx: SourceContext): Promise<Source> {
    const collector = new LoginCollector(ctx);
    collector.start();
    return collector;
  },
};

export type LoginSource = Source & { poll(): void; pollJournal(): Promise<void> };
