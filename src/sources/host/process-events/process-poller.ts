import { BoundedMap } from '../../../core/bounded-map';
import { listPids, readProcessInfo, readStartTime, type ProcWarning, type ProcessInfo } from '../common/process-info';

export interface PolledExit {
  pid: number;
  executable?: string;
  comm: string;
}

export interface PollResult {
  created: ProcessInfo[];
  terminated: PolledExit[];
}

interface Known {
  startTime: number;
  executable?: string;
  comm: string;
}

/**
 * The /proc polling fallback: each scan lists the proc root and diffs it against the previous scan.
 * A process is pid + start time, so a reused pid counts as an exit plus a new process. The first
 * scan only learns what is running. Processes that start and end between two scans are not seen.
 */
export class ProcessPoller {
  private known: BoundedMap<number, Known>;
  private primed = false;

  constructor(
    private readonly procRoot: string,
    private readonly onWarning?: ProcWarning,
    limit = 65_536,
  ) {
    this.known = new BoundedMap(limit);
  }

  scan(): PollResult {
    const created: ProcessInfo[] = [];
    const terminated: PolledExit[] = [];
    const seen = new Set<number>();
    for (const pid of listPids(this.procRoot)) {
      const previous = this.known.get(pid);
      if (previous !== undefined) {
        const startTime = readStartTime(this.procRoot, pid);
        if (startTime === undefined) continue; // gone since the listing (or garbage): reported as exited below
        if (startTime === previous.startTime) {
          seen.add(pid);
          continue;
        }
        terminated.push({ pid, executable: previous.executable, comm: previous.comm });
      }
      const info = readProcessInfo(this.procRoot, pid, this.onWarning);
      if (!info) {
        this.known.delete(pid);
        continue;
      }
      seen.add(pid);
      this.known.set(pid, { startTime: info.startTime, executable: info.executable, comm: info.comm });
      if (this.primed) created.push(info);
    }
    for (const pid of [...this.known.keys()]) {
      if (seen.has(pid)) continue;
      const gone = this.known.get(pid)!;
      this.known.delete(pid);
      terminated.push({ pid, executable: gone.executable, comm: gone.comm });
    }
    this.primed = true;
    return { created, terminated };
  }

  /** The executable last seen for a pid, if it is tracked. */
  executableOf(pid: number): string | undefined {
    return this.known.get(pid)?.executable;
  }
}
