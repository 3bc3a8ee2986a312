import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './paths';

/**
 * What a child dropped to another uid (65534) needs in order to run the built code, copied to a
 * world-readable directory under the system temp dir: the checkout may sit where others cannot enter
 * (a clone under /root, a `mktemp -d`), and so may the Node binary scripts/test.sh fetched. Nothing
 * is loosened in the checkout itself.
 */
export class UnprivilegedCopy {
  readonly dir: string;
  /** The copied Node binary. */
  readonly node: string;

  /** `distPaths`: directories or files under dist/ to copy (e.g. 'src'). */
  constructor(distPaths: string[]) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-unpriv-'));
    this.node = path.join(this.dir, 'node');
    cpSync(process.execPath, this.node);
    for (const p of distPaths) cpSync(path.join(repoRoot(), 'dist', p), path.join(this.dir, 'dist', p), { recursive: true });
    openUp(this.dir);
    chmodSync(this.node, 0o755);
  }

  /** The copy of dist/<relative>. */
  dist(relative: string): string {
    return path.join(this.dir, 'dist', relative);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function openUp(p: string): void {
  const st = statSync(p);
  if (st.isDirectory()) {
    chmodSync(p, 0o755);
    for (const entry of readdirSync(p)) openUp(path.join(p, entry));
  } else {
    chmodSync(p, 0o644);
  }
}
