import { existsSync, opendirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * cgroup id (from the kernel sensor) -> container id. A cgroup id is the inode number of the
 * cgroup's directory in cgroupfs, so the host's cgroup tree is read (through the host root) into an
 * inode -> path map, and the container id is the 64-hex id in the path, as Docker/moby, containerd
 * and the kubelet name their cgroups (/docker/<id>, /system.slice/docker-<id>.scope, …).
 *
 * Bounded: the tree is read to MAX_DEPTH levels and MAX_DIRS directories, at most once per
 * RESCAN_MS (a cgroup unknown at the last read waits for the next one), and only on a miss.
 */

const MAX_DEPTH = 8;
const MAX_DIRS = 20_000;
const RESCAN_MS = 1_000;
const CONTAINER_ID = /(?:^|[/\-_:])([0-9a-f]{64})(?:\.scope)?(?=$|\/)/g;

export interface CgroupAttribution {
  cgroupId: string;
  containerId?: string;
}

export class CgroupContainers {
  /** cgroup v2 (unified) when the host mounts it at /sys/fs/cgroup, else the v1 memory hierarchy. */
  readonly unified: boolean;
  readonly root: string;
  private byInode = new Map<bigint, string | null>();
  private lastScan = -Infinity;
  scans = 0;
  truncatedScans = 0;

  constructor(hostRoot: string, private readonly now: () => number = Date.now) {
    const base = path.join(hostRoot, 'sys', 'fs', 'cgroup');
    this.unified = existsSync(path.join(base, 'cgroup.controllers'));
    this.root = this.unified ? base : path.join(base, 'memory');
  }

  /** Which id of a record identifies its cgroup on this host. */
  pick(cgroupId: bigint, cgroupV1Id: bigint): bigint {
    return this.unified ? cgroupId : cgroupV1Id;
  }

  /** The container id of a cgroup, undefined for a host process (or a cgroup not found). */
  containerOf(id: bigint): string | undefined {
    if (id === 0n) return undefined;
    let known = this.byInode.get(id);
    if (known === undefined && this.now() - this.lastScan >= RESCAN_MS) {
      this.scan();
      known = this.byInode.get(id);
    }
    return known ?? undefined;
  }

  private scan(): void {
    this.lastScan = this.now();
    this.scans++;
    const map = new Map<bigint, string | null>();
    let dirs = 0;
    const walk = (dir: string, rel: string, depth: number): void => {
      if (dirs >= MAX_DIRS) return;
      dirs++;
      try {
        map.set(statSync(dir, { bigint: true }).ino, containerIdInPath(rel) ?? null);
      } catch {
        return;
      }
      if (depth >= MAX_DEPTH) return;
      let handle;
      try {
        handle = opendirSync(dir);
      } catch {
        return;
      }
      try {
        for (let entry = handle.readSync(); entry; entry = handle.readSync()) {
          // Only real directories: cgroupfs has no symlinks, a prepared host root might.
          if (entry.isDirectory()) walk(path.join(dir, entry.name), `${rel}/${entry.name}`, depth + 1);
          if (dirs >= MAX_DIRS) break;
        }
      } finally {
        handle.closeSync();
      }
    };
    walk(this.root, '', 0);
    if (dirs >= MAX_DIRS) this.truncatedScans++;
    this.byInode = map;
  }
}

/** The last 64-hex container id in a cgroup path, if any. */
export function containerIdInPath(cgroupPath: string): string | undefined {
  let found: string | undefined;
  for (const m of cgroupPath.matchAll(CONTAINER_ID)) found = m[1];
  return found;
}
