import { readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { BoundedMap } from '../../../core/bounded-map';

/**
 * What the kernel sensor has learnt about live processes (from exec records), for the context of
 * later events: the parent's executable and command line, the ancestors, the owner of a connection.
 * A process that exec'd before the sensor loaded is read from /proc once, when first asked about.
 */

export interface KnownProcess {
  executable?: string;
  commandLine?: string;
  ppid?: number;
}

/** Live processes: as Linux's default pid_max. */
const LIMIT = 32_768;
/**
 * Exited processes kept for the records still in flight about them (a connection or file record of a
 * process that has just exited, its exit record handled by another subscriber first). Without this
 * split every exited process stayed in the live table: 20,000 short-lived execs with 2 KB command
 * lines held 40 MB until 32,768 newer ones pushed them out.
 */
const EXITED_LIMIT = 1024;
const CMDLINE_LIMIT = 4096;

export class ProcessTable {
  private readonly known = new BoundedMap<number, KnownProcess>(LIMIT);
  private readonly exitedRecently = new BoundedMap<number, KnownProcess>(EXITED_LIMIT);

  constructor(private readonly procRoot: string) {}

  set(pid: number, p: KnownProcess): void {
    this.exitedRecently.delete(pid);
    this.known.set(pid, p);
  }

  /** A process exited: its record moves to the small table of recent exits (still readable for a while). */
  exited(pid: number): void {
    const p = this.known.get(pid);
    if (!p) return;
    this.known.delete(pid);
    this.exitedRecently.set(pid, p);
  }

  /** How many processes each table holds (tests, bounds). */
  sizes(): { live: number; exited: number } {
    return { live: this.known.size, exited: this.exitedRecently.size };
  }

  get(pid: number): KnownProcess | undefined {
    if (pid <= 0) return undefined;
    const hit = this.known.get(pid) ?? this.exitedRecently.get(pid);
    if (hit) return hit;
    const read = this.readProc(pid);
    if (read) this.known.set(pid, read);
    return read;
  }

  /** Executables of the parent's ancestors chain, nearest first (the parent included), up to `limit`. */
  ancestors(ppid: number, limit: number): string[] {
    const out: string[] = [];
    const seen = new Set<number>();
    let pid = ppid;
    while (pid > 0 && out.length < limit && !seen.has(pid)) {
      seen.add(pid);
      const p = this.get(pid);
      if (!p) break;
      out.push(p.executable ?? '?');
      pid = p.ppid ?? 0;
    }
    return out;
  }

  private readProc(pid: number): KnownProcess | undefined {
    const dir = path.join(this.procRoot, String(pid));
    let status: string;
    try {
      status = readFileSync(path.join(dir, 'status'), 'utf8');
    } catch {
      return undefined;
    }
    const ppid = /\nPPid:\s*(\d+)/.exec(status)?.[1];
    const p: KnownProcess = { ...(ppid !== undefined ? { ppid: Number(ppid) } : {}) };
    try {
      p.executable = readlinkSync(path.join(dir, 'exe'));
    } catch {
      // a kernel thread, or not permitted
    }
    try {
      const raw = readFileSync(path.join(dir, 'cmdline')).subarray(0, CMDLINE_LIMIT).toString('utf8');
      const cmd = raw.replace(/\0+$/, '').split('\0').join(' ');
      if (cmd) p.commandLine = cmd;
    } catch {
      // gone
    }
    return p;
  }
}
