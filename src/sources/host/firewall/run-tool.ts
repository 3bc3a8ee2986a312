import { execFile } from 'node:child_process';

export interface ToolResult {
  ok: boolean;
  stdout: string;
  /** Why it failed: 'not installed', 'permission denied: …', 'exit 1: …', 'timed out'. */
  error?: string;
  missing?: boolean;
}

const TIMEOUT_MS = 15_000;
const MAX_OUTPUT = 32 * 1024 * 1024;

/** Runs a firewall tool (through `prefix`, e.g. `ip netns exec <ns>` in tests) and classifies failures. */
export function runTool(prefix: readonly string[], command: string, args: readonly string[]): Promise<ToolResult> {
  const argv = [...prefix, command, ...args];
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: TIMEOUT_MS, maxBuffer: MAX_OUTPUT, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve({ ok: true, stdout });
      // execFile's error: code is the errno name when the spawn failed, else the exit status.
      const e = err as Omit<NodeJS.ErrnoException, 'code'> & { killed?: boolean; code?: number | string };
      if (e.code === 'ENOENT') return resolve({ ok: false, stdout: '', error: `${argv[0]} not installed`, missing: true });
      if (e.killed) return resolve({ ok: false, stdout: '', error: `${command} timed out after ${TIMEOUT_MS} ms` });
      const message = (stderr || e.message).trim().split('\n')[0]!.slice(0, 200);
      // Exit 127 from a prefix such as `env`, or `ip netns exec` failing to exec: a missing tool too.
      if (e.code === 127 || /exec of "[^"]*" failed: No such file/.test(message)) return resolve({ ok: false, stdout: '', error: `${command} not installed`, missing: true });
      const denied = /Operation not permitted|Permission denied|must be root/i.test(message);
      resolve({ ok: false, stdout: '', error: `${denied ? 'permission denied' : `exit ${String(e.code)}`}: ${message}` });
    });
  });
}
