import { statSync } from 'node:fs';
import path from 'node:path';
import { hostPath } from '../../../core/host-root';
import { readRegularText } from '../../../core/safe-read';
import { MAX_ACCOUNT_FILE_BYTES } from '../accounts/account-files';
import type { ProcWarning } from '../common/process-info';

/** Parses /etc/passwd text into uid -> first name with that uid; malformed lines are counted and skipped. */
export function parsePasswd(text: string): { names: Map<number, string>; malformedLines: number } {
  const names = new Map<number, string>();
  let malformedLines = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    const uid = fields[2];
    if (fields.length < 7 || !fields[0] || uid === undefined || !/^\d{1,10}$/.test(uid)) {
      malformedLines++;
      continue;
    }
    if (!names.has(Number(uid))) names.set(Number(uid), fields[0]);
  }
  return { names, malformedLines };
}

/**
 * uid -> user name from the HOST's passwd (through the host root). The file is re-read when its
 * mtime, size or inode change, checked at most once per `recheckMs`.
 */
export class UserNames {
  private names = new Map<number, string>();
  private signature = '';
  private checkedAt = -Infinity;
  readonly file: string;

  constructor(
    hostRoot: string,
    private readonly onWarning?: ProcWarning,
    private readonly recheckMs = 1000,
    private readonly now: () => number = Date.now,
  ) {
    let file: string;
    try {
      file = hostPath(hostRoot, '/etc/passwd');
    } catch {
      // A symbolic-link loop: reads fail (ELOOP) and are reported like any unreadable file.
      file = path.join(hostRoot, 'etc/passwd');
    }
    this.file = file;
  }

  name(uid: number | undefined): string | undefined {
    if (uid === undefined) return undefined;
    this.refresh();
    return this.names.get(uid);
  }

  private refresh(): void {
    const t = this.now();
    if (t - this.checkedAt < this.recheckMs) return;
    this.checkedAt = t;
    let signature: string;
    try {
      const st = statSync(this.file);
      signature = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      if (this.signature !== 'missing') this.onWarning?.('host passwd file not readable, user names left out', { file: this.file });
      this.signature = 'missing';
      this.names = new Map();
      return;
    }
    if (signature === this.signature) return;
    try {
      const parsed = parsePasswd(readRegularText(this.file, MAX_ACCOUNT_FILE_BYTES));
      this.names = parsed.names;
      if (parsed.malformedLines > 0) this.onWarning?.('malformed lines in host passwd file skipped', { file: this.file, lines: parsed.malformedLines });
      this.signature = signature;
    } catch (err) {
      this.onWarning?.('host passwd file not readable, user names left out', { file: this.file, error: err });
    }
  }
}
