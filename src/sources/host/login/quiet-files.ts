import type { Stats } from 'node:fs';

/**
 * A file's ctime must be at least this old when it is read for it to count as quiet. File times come
 * from the kernel's coarse clock (a tick behind the real time at most); with this margin, any later
 * change of the file (a write, a truncation, a rename onto it, even a rewrite to the same length)
 * gives it a ctime different from the one recorded, so an unchanged stat means unchanged content.
 */
export const SETTLE_MS = 1_000;

interface QuietEntry {
  path: string;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/**
 * Followed files known to be unchanged since their last complete read, so a poll can skip reading and
 * hashing them (login polling, every 2 s, mostly finds nothing new). A file qualifies only after a
 * read that took everything there was and found it settled (ctime older than SETTLE_MS); any
 * difference in device, inode, size, mtime or ctime, or another resolved path, ends that.
 */
export class QuietFiles {
  private readonly entries = new Map<string, QuietEntry>();

  /** True when `st` (of `path`, followed as `key`) shows the file as it was at its last complete, settled read. */
  unchanged(key: string, path: string, st: Stats): boolean {
    const e = this.entries.get(key);
    return e !== undefined && e.path === path && e.dev === st.dev && e.ino === st.ino && e.size === st.size && e.mtimeMs === st.mtimeMs && e.ctimeMs === st.ctimeMs;
  }

  /**
   * After a read of `path` as `st` showed it (`statAt`: the time just before that stat): remembered when
   * the read took everything and the file was settled, else forgotten.
   */
  record(key: string, path: string, st: Stats, complete: boolean, statAt: number): void {
    const age = statAt - st.ctimeMs;
    // A ctime in the future (clock set back) or too recent to be sure: check the content again next time.
    if (complete && age >= SETTLE_MS) this.entries.set(key, { path, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
    else this.entries.delete(key);
  }

  forget(key: string): void {
    this.entries.delete(key);
  }
}
