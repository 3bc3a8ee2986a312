import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { SETTLE_MS } from './quiet-files';

/** Beyond this many entries the directory is not summed up: journalctl runs on every poll, as without the check. */
const MAX_ENTRIES = 512;

/**
 * What a journal directory looks like now, for "did anything change since the last read": name,
 * inode, size, mtime and ctime of every file in it and in its machine-id subdirectories. journald
 * writes through mmap but truncates the file to its own size after each write (so inotify sees it),
 * which moves mtime and ctime: a new entry always changes this. Undefined when the directory cannot be
 * summed up (unreadable, too many entries) or changed too recently to be sure (see SETTLE_MS): then
 * the caller reads.
 */
export function journalSignature(directory: string, statAt: number): string | undefined {
  const parts: string[] = [];
  let newest = 0;
  const visit = (dir: string, depth: number): boolean => {
    const st = statSync(dir);
    newest = Math.max(newest, st.ctimeMs);
    parts.push(`${dir}\0${st.ino}\0${st.mtimeMs}\0${st.ctimeMs}`);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (parts.length > MAX_ENTRIES) return false;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (depth === 0 && !visit(full, 1)) return false;
        continue;
      }
      if (!entry.isFile()) continue;
      const f = statSync(full, { throwIfNoEntry: false });
      if (!f) continue;
      newest = Math.max(newest, f.ctimeMs);
      parts.push(`${entry.name}\0${f.ino}\0${f.size}\0${f.mtimeMs}\0${f.ctimeMs}`);
    }
    return true;
  };
  try {
    if (!visit(directory, 0)) return undefined;
  } catch {
    return undefined;
  }
  if (statAt - newest < SETTLE_MS) return undefined;
  return parts.join('\n');
}
