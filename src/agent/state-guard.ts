import { randomUUID } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import type { Logger } from '../core/logger';
import type { JsonObject } from '../core/json-merge-patch';
import { lockHolder, lockStateDir, readAgentId, StateDirInUseError, storeAgentId } from './state';
import { tightenStateDir } from './state-permissions';

/** How often a state directory that could not be written at start is tried again. */
export const STATE_RETRY_MS = 5_000;

export type LockState = 'held' | 'not written';
export type AgentIdState = 'stored' | 'generated, not stored';

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? String(error);
}

/**
 * The state directory at start: lock and agent id. A directory that is full or read-only does not stop
 * the agent: it runs from memory (the queue journal retries by itself), says so in the status, and every
 * STATE_RETRY_MS tries again to write the lock and the agent id. A live agent holding a readable lock
 * still stops the start (StateDirInUseError).
 */
export class StateGuard {
  private release: () => void = () => undefined;
  private lock: LockState = 'not written';
  private idState: AgentIdState = 'stored';
  private lastError = '';
  private timer?: NodeJS.Timeout;

  private constructor(
    readonly stateDir: string,
    readonly agentId: string,
    private readonly log?: Logger,
  ) {}

  static open(stateDir: string, log?: Logger, retryMs = STATE_RETRY_MS): StateGuard {
    if (writable(stateDir)) tightenStateDir(stateDir, log);
    const stored = readAgentId(stateDir, log);
    const guard = new StateGuard(stateDir, stored ?? randomUUID(), log);
    guard.takeLock();
    if (stored === undefined) guard.storeId();
    if (guard.degraded()) {
      log?.warn('state directory cannot be written (full or read-only?): EdgeGuard runs from memory, a restart would lose what is queued; retrying every 5 s', {
        stateDir,
        error: guard.lastError,
        lock: guard.lock,
        agentId: guard.idState,
      });
      guard.timer = setInterval(() => guard.retry(), retryMs);
      guard.timer.unref();
    }
    return guard;
  }

  /** What the status reports under stateDirectory (with the journal's persisting/lastError). */
  status(): JsonObject {
    return { writable: !this.degraded(), lock: this.lock, agentId: this.idState, ...(this.degraded() ? { stateError: this.lastError } : {}) };
  }

  /** The lock and agent id, for watchStateHealth. */
  health(): { writable: boolean; lock: LockState; agentId: AgentIdState } {
    return { writable: !this.degraded(), lock: this.lock, agentId: this.idState };
  }

  /** Stops retrying and releases the lock when this agent holds it. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.release();
  }

  private degraded(): boolean {
    return this.lock !== 'held' || this.idState !== 'stored';
  }

  private takeLock(): void {
    try {
      this.release = lockStateDir(this.stateDir, this.log);
      this.lock = 'held';
    } catch (error) {
      if (error instanceof StateDirInUseError) throw error;
      // The lock cannot be written; a live agent holding a readable one still stops this start.
      const pid = lockHolder(this.stateDir);
      if (pid !== undefined) throw new StateDirInUseError(this.stateDir, pid);
      this.lastError = errorCode(error);
    }
  }

  private storeId(): void {
    try {
      storeAgentId(this.stateDir, this.agentId);
      this.idState = 'stored';
    } catch (error) {
      this.idState = 'generated, not stored';
      this.lastError = errorCode(error);
    }
  }

  private retry(): void {
    if (this.lock !== 'held') {
      try {
        this.takeLock();
      } catch (error) {
        // Another agent took the directory meanwhile: this one keeps running from memory and says so.
        this.lastError = error instanceof StateDirInUseError ? `in use by pid ${error.pid}` : errorCode(error);
      }
    }
    if (this.lock === 'held' && this.idState !== 'stored') this.storeId();
    if (!this.degraded()) {
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
      this.lastError = '';
      tightenStateDir(this.stateDir, this.log);
      this.log?.info('state directory writable again: lock and agent id stored', { stateDir: this.stateDir, agentId: this.agentId });
    }
  }
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
