import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

/**
 * Device faults staged for real (issue 11): a small tmpfs as the agent's state directory, filled to
 * ENOSPC; and the agent's Prometheus endpoint read to see how it copes.
 */

/**
 * A fresh directory (`prefix` under the system temp directory) whose `state` subdirectory is a tmpfs of
 * `size` (mount's syntax: 4m); or, where it cannot be mounted (not root, no mount), why: a skip reason,
 * with nothing left behind. Undo with unmountAndRemove(state, dir) once the agent is gone.
 */
export function tmpfsStateDir(prefix: string, size: string): { dir: string; state: string } | { skip: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const state = path.join(dir, 'state');
  mkdirSync(state);
  const why = mountTmpfs(state, size);
  if (why === undefined) return { dir, state };
  rmSync(dir, { recursive: true, force: true });
  return { skip: why };
}

function mountTmpfs(dir: string, size: string): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a tmpfs';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `mount -t tmpfs failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  }
}

/** Unmounts `mountPoint` (said on stderr when it cannot be) and removes `dir`, the directory that held it. */
export function unmountAndRemove(mountPoint: string, dir: string): void {
  try {
    execFileSync('umount', [mountPoint]);
  } catch (error) {
    console.error(`could not unmount ${mountPoint}: ${String(error)}`);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Fills the file system holding `dir` until ENOSPC; returns the filler's path (unlink it to free the space). */
export function fillFileSystem(dir: string): string {
  const file = path.join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(16 * 1024, 0x61);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  return file;
}

/** GET http://127.0.0.1:<port>/metrics: the agent's Prometheus text. */
export function scrapeMetrics(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** The value of an unlabelled EdgeGuard series (NaN when absent); the IoT Edge labels every series carries are allowed. */
export function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}
