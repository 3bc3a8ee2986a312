import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const MAGIC = /[*?[]/;

function join(dir: string, name: string): string {
  return dir === '' ? name : dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

export function hasGlob(pattern: string): boolean {
  return MAGIC.test(pattern);
}

/** One path segment pattern (`*`, `?`, `[abc]`) as a regex; `**` is handled by the walker. */
function segmentRegex(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${segment.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function listDir(dir: string): Array<{ name: string; isDir: boolean }> {
  try {
    return readdirSync(dir, { withFileTypes: true }).map((d) => ({
      name: d.name,
      isDir: d.isDirectory() || (d.isSymbolicLink() && safeIsDir(path.join(dir, d.name))),
    }));
  } catch {
    return [];
  }
}

function safeIsDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Expands `*`, `?`, `[…]` and `**` (any depth) in a file pattern, relative to `cwd`. Hidden
 * entries and node_modules are only entered when the pattern names them. Sorted, no duplicates.
 */
export function expandGlob(pattern: string, cwd: string): string[] {
  const normal = pattern.replace(/\\/g, '/');
  const absolute = normal.startsWith('/');
  const segments = normal.split('/').filter((s, i) => s !== '' || i === 0);
  if (absolute) segments.shift();
  const firstMagic = segments.findIndex((s) => hasGlob(s));
  const fixed = segments.slice(0, firstMagic);
  const base = absolute ? `/${fixed.join('/')}` : fixed.join('/');
  const results = new Set<string>();

  const walk = (dir: string, rest: string[]): void => {
    const fsDir = path.resolve(cwd, dir || '.');
    if (rest.length === 0) return;
    const [head, ...tail] = rest as [string, ...string[]];
    if (head === '**') {
      walk(dir, tail);
      for (const e of listDir(fsDir)) {
        if (e.isDir && !e.name.startsWith('.') && e.name !== 'node_modules') walk(join(dir, e.name), rest);
      }
      return;
    }
    if (!hasGlob(head)) {
      const next = join(dir, head);
      if (tail.length === 0) {
        if (!safeIsDir(path.resolve(cwd, next))) {
          try {
            statSync(path.resolve(cwd, next));
            results.add(next);
          } catch {
            // not there
          }
        }
      } else walk(next, tail);
      return;
    }
    const re = segmentRegex(head);
    for (const e of listDir(fsDir)) {
      if (e.name.startsWith('.') && !head.startsWith('.')) continue;
      if (!re.test(e.name)) continue;
      const next = join(dir, e.name);
      if (tail.length === 0) {
        if (!e.isDir) results.add(next);
      } else if (e.isDir) walk(next, tail);
    }
  };
  walk(base === '' && absolute ? '/' : base, segments.slice(firstMagic));
  return [...results].sort();
}
