import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import './docker-host';
import { repoRoot } from './paths';

/** The built agent entry point (`npm run build` makes it). */
export function builtAgentPath(): string {
  return path.join(repoRoot(), 'dist', 'src', 'main.js');
}

/** Why the built agent cannot be run, or undefined. */
export function builtAgentSkipReason(): string | undefined {
  return existsSync(builtAgentPath()) ? undefined : `built agent missing at ${builtAgentPath()}: run npm run build first`;
}

/** Skips test `t` loudly (a SKIP line on stderr) when the built agent is missing; true when skipped. */
export function skipUnlessBuilt(t: { skip(message?: string): void }): boolean {
  const reason = builtAgentSkipReason();
  if (reason === undefined) return false;
  console.error(`SKIP: ${reason}`);
  t.skip(`SKIP: ${reason}`);
  return true;
}

/** The agent run as a separate process (`node dist/src/main.js`), its output kept line by line. */
export class AgentProcess {
  /** stdout and stderr, line by line as they came. */
  readonly lines: string[] = [];
  /** stdout alone (messages, in standalone mode; the log goes to stderr). */
  readonly stdoutLines: string[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;

  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [builtAgentPath()], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (also?: string[]): ((chunk: Buffer) => void) => {
      let pending = '';
      return (chunk) => {
        pending += chunk.toString('utf8');
        const parts = pending.split('\n');
        pending = parts.pop() ?? '';
        for (const line of parts) {
          this.lines.push(line);
          also?.push(line);
          if (process.env.EDGEGUARD_TEST_VERBOSE) console.error(`[agent ${this.child.pid}] ${line}`);
        }
      };
    };
    this.child.stdout?.on('data', collect(this.stdoutLines));
    this.child.stderr?.on('data', collect());
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` and resolves with the exit code, or rejects when the process outlives `timeoutMs` (then it is killed). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    if (!this.running) return this.exited;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exited;
      throw new Error(`agent did not exit within ${timeoutMs} ms of ${signal}`);
    }
    return result;
  }

  /** Last lines of output, for assertion messages. */
  tail(count = 30): string {
    return this.lines.slice(-count).join('\n');
  }
}
