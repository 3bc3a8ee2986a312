import { statSync } from 'node:fs';
import { hostPath } from '../../../core/host-root';
import { readRegularText } from '../../../core/safe-read';

/** passwd, group and shadow of even a large host are far below this; a bigger file is not one. */
export const MAX_ACCOUNT_FILE_BYTES = 16 * 1024 * 1024;

/** One /etc/passwd entry (the password field is never kept). */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  /** The passwd password field is empty: no password at all unless shadow says otherwise. */
  emptyPasswordField: boolean;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** What a shadow entry says about the password, never the hash itself. */
export type PasswordState = 'empty' | 'locked' | 'set';

export interface ShadowEntry {
  name: string;
  password: PasswordState;
}

export interface Parsed<T> {
  entries: T[];
  /** 1-based numbers of lines that could not be parsed (their content is not repeated: it may hold a hash). */
  malformedLines: number[];
}

const ID = /^\d{1,10}$/;

function parseLines<T>(text: string, parse: (fields: string[]) => T | undefined): Parsed<T> {
  const entries: T[] = [];
  const malformedLines: number[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const entry = parse(line.split(':'));
    if (entry === undefined) malformedLines.push(index + 1);
    else entries.push(entry);
  });
  return { entries, malformedLines };
}

export function parsePasswdEntries(text: string): Parsed<PasswdEntry> {
  return parseLines(text, (f) => {
    if (f.length !== 7 || !f[0] || !ID.test(f[2]!) || !ID.test(f[3]!)) return undefined;
    return { name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]!, emptyPasswordField: f[1] === '' };
  });
}

export function parseGroupEntries(text: string): Parsed<GroupEntry> {
  return parseLines(text, (f) => {
    if (f.length !== 4 || !f[0] || !ID.test(f[2]!)) return undefined;
    return { name: f[0], gid: Number(f[2]), members: f[3]!.split(',').map((m) => m.trim()).filter((m) => m !== '') };
  });
}

/** A hash field starting with ! or * (or a lone "x") cannot be used to log in with a password. */
export function passwordState(field: string): PasswordState {
  if (field === '') return 'empty';
  if (field.startsWith('!') || field.startsWith('*') || field === 'x') return 'locked';
  return 'set';
}

export function parseShadowEntries(text: string): Parsed<ShadowEntry> {
  return parseLines(text, (f) => {
    if (f.length < 2 || f.length > 9 || !f[0]) return undefined;
    return { name: f[0], password: passwordState(f[1]!) };
  });
}

/** Reads a regular host file through the host root as text. Throws the fs error (ENOENT, EACCES…) or UnsafeFileError. */
export function readHostText(hostRoot: string, file: string): string {
  return readRegularText(hostPath(hostRoot, file), MAX_ACCOUNT_FILE_BYTES);
}

/** Account names of the host's passwd, re-read when the file changes (inode, size, mtime). */
export class LocalAccountNames {
  private names = new Set<string>();
  private signature = '';

  constructor(private readonly hostRoot: string) {}

  /** Current names; empty when passwd cannot be read (then every name counts as unknown). */
  current(): ReadonlySet<string> {
    try {
      const file = hostPath(this.hostRoot, '/etc/passwd');
      const st = statSync(file);
      const signature = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (signature !== this.signature) {
        this.names = new Set(parsePasswdEntries(readRegularText(file, MAX_ACCOUNT_FILE_BYTES)).entries.map((e) => e.name));
        this.signature = signature;
      }
    } catch {
      this.names = new Set();
      this.signature = '';
    }
    return this.names;
  }
}
