import { readFileSync } from 'node:fs';
import os from 'node:os';
import { errorText } from '../core/error-text';
import type { Logger } from '../core/logger';
import { loadNativeAddon } from '../sources/host/common/native';

/**
 * The settle step (issue 12, README "Footprint"): once the agent is up, the pages only its start-up
 * touched (module compilation, ICU, OpenSSL initialisation: ~30 MB of the node binary) go back to the
 * device. It does not shrink what the agent needs: it returns what it no longer uses.
 *  - madvise(MADV_PAGEOUT) (Linux >= 5.4) on the process's read-only file mappings (its executable and
 *    libraries): the kernel drops their clean pages, which are read back from the file if touched again.
 *    Content never changes: writable mappings and anonymous memory are never passed, and pages a
 *    relocated library made private (anonymous) stay where they are without swap. The kernel skips pages
 *    other processes map too (libc, a node binary shared with other node processes).
 *  - malloc_trim(0) (glibc): free malloc memory goes back.
 * Where the kernel, the C library or a seccomp profile refuses, it logs one line and does nothing else.
 * EDGEGUARD_MEMORY_TRIM=off turns it off.
 */

/** The native functions (native/memory_trim.c, in the edgeguard_native addon). */
export interface MemoryTrimAddon {
  /** [start, length, …] -> an errno per range (0: advised). */
  pageOut(ranges: number[]): number[];
  /** true: memory was returned; false: none to return; null: not glibc. */
  mallocTrim(): boolean | null;
}

export interface PageOutRange {
  start: number;
  length: number;
  file: string;
}

const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) ([-r][-w][-x][ps]) [0-9a-f]+ [0-9a-f]+:[0-9a-f]+ (\d+)\s+(.*)$/;

/**
 * The ranges of /proc/self/maps the settle step pages out: private file mappings that are readable and
 * not writable, of a regular file on disk (not [vdso] and the like, not anonymous memory, not a deleted
 * file, a memfd or a device).
 */
export function pageOutRanges(maps: string): PageOutRange[] {
  const out: PageOutRange[] = [];
  for (const line of maps.split('\n')) {
    const m = MAPS_LINE.exec(line);
    if (!m) continue;
    const [, from, to, perms, inode, file] = m as unknown as [string, string, string, string, string, string];
    if (perms[0] !== 'r' || perms[1] !== '-' || perms[3] !== 'p' || inode === '0') continue;
    if (!file.startsWith('/') || file.startsWith('/dev/') || file.startsWith('/memfd:') || file.endsWith(' (deleted)')) continue;
    const start = parseInt(from, 16);
    const end = parseInt(to, 16);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) continue;
    out.push({ start, length: end - start, file });
  }
  return out;
}

export interface MemorySample {
  /** MB, from /proc/self/status. */
  vmRss: number;
  rssAnon: number;
  rssFile: number;
}

export function memorySample(status: string): MemorySample {
  const mb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { vmRss: mb('VmRSS'), rssAnon: mb('RssAnon'), rssFile: mb('RssFile') };
}

export interface SettleReport {
  before: MemorySample;
  after: MemorySample;
  /** Ranges advised / refused this time (a range can vanish between reading the maps and the call). */
  pagedOut: number;
  refused: number;
  /** Why pages are not paged out at all (no addon, old kernel, seccomp), when so. */
  pageOutUnavailable?: string;
  mallocTrim: 'returned' | 'nothing to return' | 'not glibc' | 'failed';
}

export interface MemorySettleOptions {
  log: Logger;
  /** The native functions, or why there are none. Default: the edgeguard_native addon. */
  addon?: () => MemoryTrimAddon | string;
  readMaps?: () => string;
  readStatus?: () => string;
}

const errnoNames = new Map(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));
/** Errors that say the kernel or a filter refuses MADV_PAGEOUT as such, not one range. */
const REFUSALS: Record<string, string> = {
  EINVAL: 'the kernel has no MADV_PAGEOUT (Linux < 5.4)',
  EPERM: 'madvise is refused (seccomp profile?)',
  EACCES: 'madvise is refused (seccomp profile?)',
  ENOSYS: 'madvise is not available (seccomp profile?)',
};

function nativeMemoryAddon(): MemoryTrimAddon | string {
  const loaded = loadNativeAddon();
  if (!loaded.addon) return loaded.reason;
  const { pageOut, mallocTrim } = loaded.addon;
  if (typeof pageOut !== 'function' || typeof mallocTrim !== 'function') return `native addon ${loaded.file} predates pageOut/mallocTrim (run npm run build:native)`;
  return { pageOut, mallocTrim };
}

export class MemorySettle {
  private readonly log: Logger;
  private readonly addon: () => MemoryTrimAddon | string;
  private readonly readMaps: () => string;
  private readonly readStatus: () => string;
  private loaded: MemoryTrimAddon | string | undefined;
  private unavailable: string | undefined;
  private mallocTrimUnavailable = false;

  constructor(options: MemorySettleOptions) {
    this.log = options.log;
    this.addon = options.addon ?? nativeMemoryAddon;
    this.readMaps = options.readMaps ?? (() => readFileSync('/proc/self/maps', 'utf8'));
    this.readStatus = options.readStatus ?? (() => readFileSync('/proc/self/status', 'utf8'));
  }

  /** Pages out and trims now. Never throws. */
  settle(): SettleReport {
    const before = this.sample();
    let pagedOut = 0;
    let refused = 0;
    let mallocTrim: SettleReport['mallocTrim'] = 'not glibc';
    const addon = (this.loaded ??= this.addon());
    if (typeof addon === 'string') {
      this.markUnavailable(addon);
    } else {
      ({ pagedOut, refused } = this.pageOut(addon));
      if (!this.mallocTrimUnavailable) mallocTrim = this.mallocTrim(addon);
    }
    const after = this.sample();
    return { before, after, pagedOut, refused, ...(this.unavailable !== undefined ? { pageOutUnavailable: this.unavailable } : {}), mallocTrim };
  }

  private pageOut(addon: MemoryTrimAddon): { pagedOut: number; refused: number } {
    if (this.unavailable !== undefined) return { pagedOut: 0, refused: 0 };
    let ranges: PageOutRange[];
    let results: number[];
    try {
      ranges = pageOutRanges(this.readMaps());
      if (ranges.length === 0) return { pagedOut: 0, refused: 0 };
      results = addon.pageOut(ranges.flatMap((r) => [r.start, r.length]));
    } catch (error) {
      this.markUnavailable(`pageOut failed: ${errorText(error)}`);
      return { pagedOut: 0, refused: 0 };
    }
    const failed = results.map((e) => (e === 0 ? undefined : (errnoNames.get(e) ?? `errno ${e}`)));
    const refused = failed.filter((e) => e !== undefined).length;
    const first = failed.find((e) => e !== undefined);
    if (refused === ranges.length && first !== undefined && failed.every((e) => e === first)) {
      this.markUnavailable(`${REFUSALS[first] ?? 'madvise(MADV_PAGEOUT) failed'} (${first})`);
      return { pagedOut: 0, refused };
    }
    if (refused > 0) this.log.debug('some mappings were not paged out', { refused, errors: [...new Set(failed.filter((e) => e !== undefined))].join(',') });
    return { pagedOut: ranges.length - refused, refused };
  }

  private mallocTrim(addon: MemoryTrimAddon): SettleReport['mallocTrim'] {
    try {
      const returned = addon.mallocTrim();
      if (returned === null) this.mallocTrimUnavailable = true;
      return returned === null ? 'not glibc' : returned ? 'returned' : 'nothing to return';
    } catch (error) {
      this.mallocTrimUnavailable = true;
      this.log.info('malloc_trim unavailable: free malloc memory stays with the process', { reason: errorText(error) });
      return 'failed';
    }
  }

  private markUnavailable(reason: string): void {
    if (this.unavailable !== undefined) return;
    this.unavailable = reason;
    this.log.info('memory trim unavailable: start-up pages stay resident until the kernel needs them', { reason });
  }

  /** The process's memory now (NaN where /proc cannot be read). */
  sample(): MemorySample {
    try {
      return memorySample(this.readStatus());
    } catch {
      return { vmRss: NaN, rssAnon: NaN, rssFile: NaN };
    }
  }
}

/** EDGEGUARD_MEMORY_TRIM: `off` (or 0/false/no) turns the settle step off; anything else leaves it on. */
export function memoryTrimEnabled(env: NodeJS.ProcessEnv): boolean {
  const value = (env.EDGEGUARD_MEMORY_TRIM ?? '').trim().toLowerCase();
  return !['off', '0', 'false', 'no'].includes(value);
}

/** First settle this long after the agent is up (sources started, first twin applied, first snapshots taken). */
export const FIRST_SETTLE_MS = 30_000;
/** Then every hour, when the file-backed pages grew back by at least REGROWTH_MB over their settled level. */
export const SETTLE_CHECK_MS = 3_600_000;
/** The settled level is taken this long after a settle: by then the idle working set is back. */
const SETTLED_LEVEL_AFTER_MS = 120_000;
const REGROWTH_MB = 2;

export interface MemorySettleSchedule {
  stop(): void;
}

const round = (n: number): number => Math.round(n * 10) / 10;

/** Starts the schedule (all timers unref'd). Off when EDGEGUARD_MEMORY_TRIM says so. */
export function scheduleMemorySettle(env: NodeJS.ProcessEnv, log: Logger, options: Partial<MemorySettleOptions> & { firstMs?: number; everyMs?: number; settledAfterMs?: number } = {}): MemorySettleSchedule {
  if (!memoryTrimEnabled(env)) {
    log.info('memory trim off (EDGEGUARD_MEMORY_TRIM)');
    return { stop: () => undefined };
  }
  const settler = new MemorySettle({ log, ...options });
  const timers = new Set<NodeJS.Timeout>();
  let settledRssFile: number | undefined;
  let first = true;
  const later = (ms: number, action: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      action();
    }, ms);
    t.unref();
    timers.add(t);
  };
  const settle = (): void => {
    const r = settler.settle();
    const details = {
      vmRssMB: `${round(r.before.vmRss)} -> ${round(r.after.vmRss)}`,
      rssFileMB: `${round(r.before.rssFile)} -> ${round(r.after.rssFile)}`,
      rssAnonMB: `${round(r.before.rssAnon)} -> ${round(r.after.rssAnon)}`,
      mappings: r.pagedOut,
      mallocTrim: r.mallocTrim,
    };
    if (first) log.info('start-up memory returned to the system', details);
    else log.debug('memory settled again', details);
    first = false;
    if (r.pageOutUnavailable === undefined) later(options.settledAfterMs ?? SETTLED_LEVEL_AFTER_MS, () => (settledRssFile = settler.sample().rssFile));
  };
  later(options.firstMs ?? FIRST_SETTLE_MS, settle);
  const check = setInterval(() => {
    const now = settler.sample().rssFile;
    if (settledRssFile === undefined || !(now - settledRssFile >= REGROWTH_MB)) return;
    settle();
  }, options.everyMs ?? SETTLE_CHECK_MS);
  check.unref();
  return {
    stop: () => {
      clearInterval(check);
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
