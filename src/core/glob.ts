import { opendir, stat } from 'node:fs/promises';
import path from 'node:path';

const MAGIC = /[*?[]/;

function join(dir: string, name: string): string {
  return dir === '' ? name : dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

export function hasGlob(pattern: string): boolean {
  return MAGIC.test(pattern);
}

/** Bounds of one expansion: a tree of symbolic links can be made to look infinite. */
export interface GlobLimits {
  /** Directory entries looked at before the expansion stops. */
  readonly maxEntries: number;
  /** Directory levels below the fixed part of the pattern. */
  readonly maxDepth: number;
}

export const DEFAULT_GLOB_LIMITS: GlobLimits = { maxEntries: 100_000, maxDepth: 32 };

export interface GlobResult {
  /** Matching paths (not directories), sorted, no duplicates. */
  readonly files: string[];
  /** Set when a limit stopped the expansion: the list may be incomplete. */
  readonly incomplete?: string;
}

/**
 * One path segment pattern (`*`, `?`, `[abc]`) as a matcher. The regex built has no nested or
 * adjacent unbounded quantifiers other than `[^/]*` runs, which V8 matches in linear time for one
 * segment (file names are at most 255 bytes).
 */
function segmentRegex(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') {
      // `**` inside a segment is the same as `*`; collapsing runs keeps the regex small.
      while (segment[i + 1] === '*') i++;
      re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${segment
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/[\\\]]/g, '\\$&')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

interface Entry {
  readonly name: string;
  readonly isDir: boolean;
  /** dev:ino of a directory (symbolic links followed). */
  readonly id?: string;
}

class Budget {
  entries = 0;
  incomplete?: string;
  constructor(readonly limits: GlobLimits) {}

  spend(): boolean {
    if (this.incomplete) return false;
    if (++this.entries > this.limits.maxEntries) {
      this.incomplete = `stopped after ${this.limits.maxEntries} directory entries`;
      return false;
    }
    return true;
  }
}

async function dirId(p: string): Promise<string | undefined> {
  try {
    const st = await stat(p);
    return st.isDirectory() ? `${st.dev}:${st.ino}` : undefined;
  } catch {
    return undefined;
  }
}

async function listDir(dir: string, budget: Budget): Promise<Entry[]> {
  const out: Entry[] = [];
  try {
    const handle = await opendir(dir);
    for await (const d of handle) {
      if (!budget.spend()) break;
      const full = path.join(dir, d.name);
      if (d.isDirectory() || d.isSymbolicLink()) {
        const id = await dirId(full);
        out.push({ name: d.name, isDir: id !== undefined, id });
      } else out.push({ name: d.name, isDir: false });
    }
  } catch {
    // unreadable or vanished: nothing here
  }
  return out;
}

/**
 * Expands `*`, `?`, `[…]` and `**` (any depth) in a file pattern, relative to `cwd`. Hidden
 * entries and node_modules are only entered when the pattern names them. Symbolic links to
 * directories are followed, but a directory is never entered again below itself (dev+inode), so a
 * link loop ends; the whole expansion is bounded by `limits`. Asynchronous: the agent's event loop
 * keeps running while a large tree is walked.
 */
export async function expandGlob(pattern: string, cwd: string, limits: GlobLimits = DEFAULT_GLOB_LIMITS): Promise<GlobResult> {
  const normal = pattern.replace(/\\/g, '/');
  const absolute = normal.startsWith('/');
  const segments = normal.split('/').filter((s, i) => s !== '' || i === 0);
  if (absolute) segments.shift();
  const firstMagic = segments.findIndex((s) => hasGlob(s));
  const fixed = segments.slice(0, firstMagic);
  const base = absolute ? `/${fixed.join('/')}` : fixed.join('/');
  const results = new Set<string>();
  const budget = new Budget(limits);

  // `ancestors`: dev:ino of the directories on the way down; entering one again would loop.
  const walk = async (dir: string, rest: readonly string[], depth: number, ancestors: ReadonlySet<string>): Promise<void> => {
    if (rest.length === 0 || budget.incomplete) return;
    if (depth > limits.maxDepth) {
      budget.incomplete ??= `stopped at ${limits.maxDepth} directory levels`;
      return;
    }
    const fsDir = path.resolve(cwd, dir || '.');
    const [head, ...tail] = rest as [string, ...string[]];
    if (head === '**') {
      await walk(dir, tail, depth, ancestors);
      for (const e of await listDir(fsDir, budget)) {
        if (!e.isDir || e.name.startsWith('.') || e.name === 'node_modules' || ancestors.has(e.id!)) continue;
        await walk(join(dir, e.name), rest, depth + 1, new Set(ancestors).add(e.id!));
      }
      return;
    }
    if (!hasGlob(head)) {
      const next = join(dir, head);
      if (tail.length === 0) {
        try {
          if (!(await stat(path.resolve(cwd, next))).isDirectory()) results.add(next);
        } catch {
          // not there
        }
      } else {
        const id = await dirId(path.resolve(cwd, next));
        if (id !== undefined && !ancestors.has(id)) await walk(next, tail, depth + 1, new Set(ancestors).add(id));
      }
      return;
    }
    const re = segmentRegex(head);
    for (const e of await listDir(fsDir, budget)) {
      if (e.name.startsWith('.') && !head.startsWith('.')) continue;
      if (!re.test(e.name)) continue;
      const next = join(dir, e.name);
      if (tail.length === 0) {
        if (!e.isDir) results.add(next);
      } else if (e.isDir && !ancestors.has(e.id!)) await walk(next, tail, depth + 1, new Set(ancestors).add(e.id!));
    }
  };
  const start = base === '' && absolute ? '/' : base;
  const startId = await dirId(path.resolve(cwd, start || '.'));
  await walk(start, segments.slice(firstMagic), 0, new Set(startId ? [startId] : []));
  return { files: [...results].sort(), incomplete: budget.incomplete };
}
