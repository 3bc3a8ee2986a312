import { randomUUID } from 'node:crypto';
import { accessSync, closeSync, constants, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../core/logger';
import { writeFileAtomic } from '../core/atomic-write';

export const DEFAULT_STATE_DIR = '/var/lib/edgeguard';
export const FALLBACK_STATE_DIR = '.edgeguard-state';
const AGENT_ID_FILE = 'agent-id';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function writableDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The state directory (queues, agent id, source cursors), created: EDGEGUARD_STATE_DIR, else
 * /var/lib/edgeguard when writable, else ./.edgeguard-state. Throws when the chosen one cannot be created.
 */
export function resolveStateDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (env.EDGEGUARD_STATE_DIR) {
    const dir = path.resolve(cwd, env.EDGEGUARD_STATE_DIR);
    // An existing directory that cannot be written (full, read-only) is still used: the agent runs from memory (state-guard.ts).
    if (!writableDir(dir) && !isDirectory(dir)) throw new Error(`state directory ${dir} (EDGEGUARD_STATE_DIR) cannot be created or written`);
    return dir;
  }
  if (writableDir(DEFAULT_STATE_DIR)) return DEFAULT_STATE_DIR;
  const fallback = path.resolve(cwd, FALLBACK_STATE_DIR);
  if (!writableDir(fallback)) throw new Error(`no writable state directory: ${DEFAULT_STATE_DIR} and ${fallback} cannot be written; set EDGEGUARD_STATE_DIR`);
  return fallback;
}

/**
 * The agent GUID stored in <stateDir>/agent-id (stable across restarts), when the file holds a valid
 * one; a damaged file is logged (the caller generates a new id).
 */
export function readAgentId(stateDir: string, log?: Logger): string | undefined {
  const file = path.join(stateDir, AGENT_ID_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
  if (GUID.test(text)) return text.toLowerCase();
  log?.warn('agent id file is damaged: a new AgentId is generated', { file });
  return undefined;
}

/** Stores `id` in <stateDir>/agent-id (throws when the directory cannot be written). */
export function storeAgentId(stateDir: string, id: string): void {
  writeFileAtomic(path.join(stateDir, AGENT_ID_FILE), `${id}\n`);
}

const LOCK_FILE = 'agent.lock';

/**
 * What identifies a process beyond its pid, which the kernel reuses: its start time (clock ticks since
 * boot, field 22 of /proc/<pid>/stat) and the boot id. Undefined when /proc cannot tell.
 */
export function processToken(pid: number, procRoot = '/proc'): string | undefined {
  try {
    const stat = readFileSync(path.join(procRoot, String(pid), 'stat'), 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[19];
    if (start === undefined || !/^\d+$/.test(start)) return undefined;
    let boot = '';
    try {
      boot = readFileSync(path.join(procRoot, 'sys', 'kernel', 'random', 'boot_id'), 'utf8').trim();
    } catch {
      // no boot id: the start time alone
    }
    return boot ? `${start}@${boot}` : start;
  } catch {
    return undefined;
  }
}

/** The lock file's content: `<pid> <start token>`; an older agent wrote `<pid>` alone. */
function parseLock(text: string): { pid: number; token?: string } {
  const [pid, token] = text.trim().split(/\s+/, 2);
  return { pid: Number(pid), token };
}

/**
 * True when the lock's holder is a live process other than this one that is the agent which wrote the
 * lock: same pid AND same start token. A lock without a token (older agents) counts only when the pid
 * runs EdgeGuard (its command line names edgeguard or the agent's main.js), not any Node process.
 */
function liveOtherAgent(lock: { pid: number; token?: string }): boolean {
  const { pid, token } = lock;
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (token !== undefined) {
    const current = processToken(pid);
    return current === undefined || current === token;
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    // argv[0] is the interpreter: a Node installed under an "edgeguard" path (scripts/node-runtime.sh's
    // cache) says nothing about the program it runs.
    return cmdline.slice(1).some((arg) => /edgeguard/i.test(arg) || /(^|\/)dist\/src\/(cli\/)?main\.js$/.test(arg));
  } catch {
    return true;
  }
}

/** The pid of a live other agent holding <stateDir>/agent.lock, when the lock can be read and names one. */
export function lockHolder(stateDir: string): number | undefined {
  let holder: { pid: number; token?: string };
  try {
    holder = parseLock(readFileSync(path.join(stateDir, LOCK_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  return liveOtherAgent(holder) ? holder.pid : undefined;
}

export class StateDirInUseError extends Error {
  constructor(readonly stateDir: string, readonly pid: number) {
    super(`state directory ${stateDir} is used by another EdgeGuard (pid ${pid}); give each agent its own EDGEGUARD_STATE_DIR`);
    this.name = 'StateDirInUseError';
  }
}

/**
 * Creates the lock file whole or not at all (fails with EEXIST when there is one): the text goes to a
 * private file first, which is then hard-linked to the lock's name. Created in place, a lock would be
 * empty for a moment, and another agent starting at the same time would read it as stale, remove it
 * and take one too. On a full disk nothing is left behind. File systems without hard links (EPERM,
 * ENOTSUP) get an exclusive create, removed again when it cannot be written.
 */
function writeLock(file: string, text: string): void {
  // Unique: agents in two containers sharing a volume can have the same pid.
  const staged = `${file}.${randomUUID()}.tmp`;
  try {
    writeFileSync(staged, text, { mode: 0o600 });
    linkSync(staged, file);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
  } finally {
    rmSync(staged, { force: true });
  }
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeFileSync(fd, text);
  } catch (error) {
    closeSync(fd);
    rmSync(file, { force: true });
    throw error;
  }
  closeSync(fd);
}

/**
 * Takes <stateDir>/agent.lock for this process: two agents on one state directory would corrupt each
 * other's queue journal. A lock left by a dead process (or by an earlier container whose pid was also
 * this one's) is taken over. Returns the release function.
 */
export function lockStateDir(stateDir: string, log?: Logger): () => void {
  const file = path.join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const token = processToken(process.pid);
      writeLock(file, token ? `${process.pid} ${token}\n` : `${process.pid}\n`);
      return () => {
        try {
          if (parseLock(readFileSync(file, 'utf8')).pid === process.pid) rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder: { pid: number; token?: string } = { pid: NaN };
    try {
      holder = parseLock(readFileSync(file, 'utf8'));
    } catch {
      // removed meanwhile: try again
    }
    if (liveOtherAgent(holder)) throw new StateDirInUseError(stateDir, holder.pid);
    log?.info('stale state directory lock taken over', { file, pid: Number.isNaN(holder.pid) ? 'unknown' : holder.pid });
    rmSync(file, { force: true });
  }
  throw new Error(`could not lock state directory ${stateDir}`);
}
