import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Writes `file` so that a reader (or a restart after a power cut) sees the old content or the new,
 * never a torn one: write `<file>.tmp`, then rename it over `file`. Creates the directory.
 */
export function writeFileAtomic(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}
