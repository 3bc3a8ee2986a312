import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../core/logger';

/** The state directory holds command lines and other host data: owner only. */
export const STATE_FILE_MODE = 0o600;
export const STATE_DIR_MODE = 0o700;
/** New files and directories the agent creates get at most 0600 / 0700, wherever they are created. */
export const AGENT_UMASK = 0o077;
/** Entries examined when fixing an existing directory (a state directory holds a few dozen). */
const MAX_ENTRIES = 10_000;
const MAX_DEPTH = 8;

/**
 * Tightens an existing state directory left by an earlier version (files 0644, directories 0755): every
 * directory becomes 0700 and every regular file 0600. Symbolic links are not followed; the walk is
 * bounded. Returns how many entries were changed.
 */
export function tightenStateDir(stateDir: string, log?: Logger): number {
  let changed = 0;
  let seen = 0;
  const visit = (entry: string, depth: number): void => {
    if (seen++ >= MAX_ENTRIES) return;
    let stat;
    try {
      stat = lstatSync(entry);
    } catch {
      return;
    }
    const want = stat.isDirectory() ? STATE_DIR_MODE : stat.isFile() ? STATE_FILE_MODE : undefined;
    if (want === undefined) return;
    if ((stat.mode & 0o777) !== want) {
      try {
        chmodSync(entry, want);
        changed++;
      } catch (error) {
        log?.warn('state directory entry permissions not tightened', { entry, error });
      }
    }
    if (stat.isDirectory() && depth < MAX_DEPTH) {
      let names: string[] = [];
      try {
        names = readdirSync(entry);
      } catch {
        return;
      }
      for (const name of names) visit(path.join(entry, name), depth + 1);
    }
  };
  visit(stateDir, 0);
  if (changed > 0) log?.info('state directory permissions tightened (files 0600, directories 0700)', { stateDir, changed });
  return changed;
}
