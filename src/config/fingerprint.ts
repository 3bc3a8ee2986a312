import { createHash } from 'node:crypto';

/** Nodes and depth a fingerprint looks at: desired documents come from whoever edits the twin or the file. */
const MAX_NODES = 10_000;
const MAX_DEPTH = 64;
const MAX_STRING = 4096;

/**
 * A short stable hash of any value, without recursion: a hostile document nested 100,000 deep or holding
 * millions of entries costs at most MAX_NODES steps (JSON.stringify would overflow the stack or take
 * seconds). Beyond the bounds, the value's shape is summarised (sizes), which is enough to tell one bad
 * value from another.
 */
export function fingerprint(value: unknown): string {
  const hash = createHash('sha256');
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }];
  let nodes = 0;
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (++nodes > MAX_NODES) {
      hash.update(`|+${stack.length + 1}`);
      break;
    }
    if (v === null || typeof v !== 'object') {
      const text = typeof v === 'string' ? (v.length > MAX_STRING ? `${v.slice(0, MAX_STRING)}…${v.length}` : v) : String(v);
      hash.update(`${typeof v}:${text}\u0000`);
      continue;
    }
    if (depth >= MAX_DEPTH) {
      hash.update(`deep:${Array.isArray(v) ? v.length : Object.keys(v).length}\u0000`);
      continue;
    }
    if (Array.isArray(v)) {
      hash.update(`[${v.length}\u0000`);
      for (let i = Math.min(v.length, MAX_NODES) - 1; i >= 0; i--) stack.push({ v: v[i], depth: depth + 1 });
    } else {
      const keys = Object.keys(v);
      hash.update(`{${keys.length}\u0000`);
      for (let i = Math.min(keys.length, MAX_NODES) - 1; i >= 0; i--) {
        stack.push({ v: (v as Record<string, unknown>)[keys[i]!], depth: depth + 1 });
        stack.push({ v: keys[i], depth: depth + 1 });
      }
    }
  }
  return hash.digest('hex').slice(0, 16);
}
