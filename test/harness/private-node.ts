import { copyFileSync, mkdtempSync, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './paths';

const TMPFS_MAGIC = 0x01021994;

/**
 * A private copy of the running node binary, on a disk-backed file system, for measuring the memory
 * trim (src/agent/memory-settle.ts) as it works on a device: the kernel pages out only pages no other
 * process maps (every node process of this machine maps the shared binary), and tmpfs pages cannot be
 * dropped without swap. In build/ of the checkout first (not under /tmp: a program run from /tmp is
 * an alert of every EdgeGuard agent on the machine), else os.tmpdir(). The caller removes `dir`.
 */
export function privateNodeCopy(): { bin: string; dir: string } {
  const tried: string[] = [];
  for (const base of [path.join(repoRoot(), 'build'), os.tmpdir()]) {
    try {
      if (statfsSync(base).type === TMPFS_MAGIC) {
        tried.push(`${base}: tmpfs`);
        continue;
      }
      const dir = mkdtempSync(path.join(base, 'edgeguard-node-copy-'));
      const bin = path.join(dir, 'node');
      copyFileSync(process.execPath, bin);
      return { bin, dir };
    } catch (error) {
      tried.push(`${base}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(`no disk-backed directory for a copy of node (${tried.join('; ')})`);
}
