import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../harness/paths';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export const CLI = path.join(repoRoot(), 'dist', 'src', 'cli', 'main.js');

/** Runs the built CLI as a user would, in `cwd`. */
export function runCli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '', ...env }, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A stack trace in the output means something crashed instead of reporting. */
export function hasStackTrace(text: string): boolean {
  return /\n\s+at .+:\d+:\d+\)?/.test(text) || /TypeError|RangeError|ReferenceError/.test(text);
}
