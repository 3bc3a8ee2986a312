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

const LIMIT = 32_768;
const CMDLINE_LIMIT = 4096;

export class ProcessTable {
  private readonly known = new BoundedMap<number, KnownProcess>(LIMIT);

  constructor(private readonly procRoot: string) {}

  set(pid: number, p: KnownProcess): void {
    this.known.set(pid, p);
  }

  /** Forgets a process; its record stays readable until its exit event has been handled. */
  delete(pid: number): void {
    this.known.delete(pid);
  }

  get(pid: number): KnownProcess | undefined {
    if (pid <= 0) return undefined;
    const hit = this.known.get(pid);
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
