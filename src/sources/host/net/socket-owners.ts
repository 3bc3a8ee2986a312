import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { listPids, readProcessInfo, type ProcWarning } from '../common/process-info';

/** The process holding a socket, found through its file descriptors. */
export interface SocketOwner {
  pid: number;
  /** undefined when /proc/<pid>/exe could not be read (kernel thread, gone, not permitted). */
  executable?: string;
  commandLine: string;
  uid?: number;
  /** Kernel task name, shown in brackets when the executable is unknown. */
  comm: string;
}

export interface OwnerScanStats {
  /** Processes whose fd directory could not be read (EACCES: no CAP_SYS_PTRACE / not root). */
  deniedProcesses: number;
  scannedProcesses: number;
  readlinks: number;
}

const SOCKET_LINK = /^socket:\[(\d+)\]$/;
/** Pids that held sockets recently are searched first: servers and clients tend to keep opening them. */
const HOT_PID_LIMIT = 256;

/**
 * socket inode -> owning process, by reading the /proc/<pid>/fd/* links ("socket:[<inode>]"). This is
 * the expensive part of connection tracking (one readlink per open file on the host), so it runs only
 * for inodes asked for, stops as soon as all are found, and looks at recent owners first.
 */
export class SocketOwnerFinder {
  private hotPids: number[] = [];
  lastScan: OwnerScanStats = { deniedProcesses: 0, scannedProcesses: 0, readlinks: 0 };

  constructor(
    private readonly procRoot: string,
    private readonly onWarning?: ProcWarning,
  ) {}

  /** Owners of the given inodes (0 is never looked for); inodes not found are absent from the map. */
  find(inodes: Iterable<number>): Map<number, SocketOwner> {
    const wanted = new Set<number>();
    for (const inode of inodes) if (inode !== 0) wanted.add(inode);
    const owners = new Map<number, SocketOwner>();
    const stats: OwnerScanStats = { deniedProcesses: 0, scannedProcesses: 0, readlinks: 0 };
    this.lastScan = stats;
    if (wanted.size === 0) return owners;

    const pidOfInode = new Map<number, number>();
    const hot = new Set(this.hotPids);
    const order = [...this.hotPids, ...listPids(this.procRoot).filter((pid) => !hot.has(pid))];
    const visited = new Set<number>();
    for (const pid of order) {
      if (pidOfInode.size === wanted.size) break;
      if (visited.has(pid)) continue;
      visited.add(pid);
      this.scanPid(pid, wanted, pidOfInode, stats);
    }

    const infoCache = new Map<number, SocketOwner | null>();
    for (const [inode, pid] of pidOfInode) {
      let owner = infoCache.get(pid);
      if (owner === undefined) {
        const info = readProcessInfo(this.procRoot, pid, this.onWarning);
        owner = info ? { pid, executable: info.executable, commandLine: info.commandLine, uid: info.uid, comm: info.comm } : null;
        infoCache.set(pid, owner);
      }
      if (owner) owners.set(inode, owner);
    }
    this.rememberHot([...new Set(pidOfInode.values())]);
    return owners;
  }

  private scanPid(pid: number, wanted: Set<number>, found: Map<number, number>, stats: OwnerScanStats): void {
    const fdDir = path.join(this.procRoot, String(pid), 'fd');
    let fds: string[];
    try {
      fds = readdirSync(fdDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') stats.deniedProcesses++;
      return; // gone, or not permitted
    }
    stats.scannedProcesses++;
    let denied = false;
    for (const fd of fds) {
      let target: string;
      try {
        stats.readlinks++;
        target = readlinkSync(path.join(fdDir, fd));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EACCES') denied = true;
        continue;
      }
      const match = SOCKET_LINK.exec(target);
      if (!match) continue;
      const inode = Number(match[1]);
      // The first holder found wins (a socket shared after fork belongs to several processes).
      if (wanted.has(inode) && !found.has(inode)) found.set(inode, pid);
    }
    if (denied) stats.deniedProcesses++;
  }

  private rememberHot(pids: number[]): void {
    if (pids.length === 0) return;
    const fresh = new Set(pids);
    this.hotPids = [...pids, ...this.hotPids.filter((p) => !fresh.has(p))].slice(0, HOT_PID_LIMIT);
  }
}
