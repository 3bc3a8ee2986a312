/**
 * Glob patterns (`*` any run of characters, `?` one character, `[abc]`/`[a-z]`/`[!a]` one of a set,
 * `\x` a literal x) compiled to a matcher that simulates the pattern's automaton over the input: every
 * input character is looked at once against the set of live pattern positions, so matching costs
 * O(input × pattern) at worst and never backtracks, whatever an attacker puts in the string. `*` also
 * matches `/`: rules glob over paths, command lines and image names alike.
 */

type Atom = { kind: 'star' } | { kind: 'any' } | { kind: 'char'; ch: string } | { kind: 'set'; negated: boolean; ranges: Array<[number, number]> };

export const MAX_GLOB_LENGTH = 512;

export class GlobSyntaxError extends Error {}

function parse(pattern: string): Atom[] {
  if (pattern.length > MAX_GLOB_LENGTH) throw new GlobSyntaxError(`glob longer than ${MAX_GLOB_LENGTH} characters`);
  const atoms: Atom[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (atoms[atoms.length - 1]?.kind !== 'star') atoms.push({ kind: 'star' });
    } else if (c === '?') atoms.push({ kind: 'any' });
    else if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) throw new GlobSyntaxError('glob ends with a lone backslash');
      atoms.push({ kind: 'char', ch: next });
      i++;
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new GlobSyntaxError(`unclosed [ at position ${i}`);
      let body = pattern.slice(i + 1, end);
      const negated = body.startsWith('!') || body.startsWith('^');
      if (negated) body = body.slice(1);
      const ranges: Array<[number, number]> = [];
      for (let j = 0; j < body.length; j++) {
        const lo = body.charCodeAt(j);
        if (body[j + 1] === '-' && j + 2 < body.length) {
          ranges.push([lo, body.charCodeAt(j + 2)]);
          j += 2;
        } else ranges.push([lo, lo]);
      }
      atoms.push({ kind: 'set', negated, ranges });
      i = end;
    } else atoms.push({ kind: 'char', ch: c });
  }
  return atoms;
}

function atomAccepts(atom: Atom, code: number, ch: string): boolean {
  switch (atom.kind) {
    case 'any':
      return true;
    case 'char':
      return atom.ch === ch;
    case 'set': {
      let inSet = false;
      for (const [lo, hi] of atom.ranges) if (code >= lo && code <= hi) inSet = true;
      return inSet !== atom.negated;
    }
    default:
      return false;
  }
}

export type StringMatcher = (value: string) => boolean;

/** Compiles a glob; throws GlobSyntaxError on a malformed one. */
export function compileGlob(pattern: string, caseInsensitive = false): StringMatcher {
  const source = caseInsensitive ? pattern.toLowerCase() : pattern;
  const atoms = parse(source);
  // Fast paths for the common shapes; the general case runs the automaton.
  if (atoms.every((a) => a.kind === 'char')) {
    const literal = atoms.map((a) => (a as { ch: string }).ch).join('');
    return caseInsensitive ? (v) => v.toLowerCase() === literal : (v) => v === literal;
  }
  // Only literals and stars (the usual shape): anchored first and last pieces, the middle ones found in
  // order with indexOf. Leftmost matching of each piece is optimal for star-separated literals.
  if (atoms.every((a) => a.kind === 'char' || a.kind === 'star')) return starLiteralMatcher(atoms, caseInsensitive);
  const n = atoms.length;
  // State i: i atoms consumed. A star at position i lets state i stay on any character and also
  // stands for state i+1 without consuming (epsilon), which closure() adds.
  const closure = (states: Uint8Array): void => {
    for (let i = 0; i < n; i++) if (states[i] && atoms[i]!.kind === 'star') states[i + 1] = 1;
  };
  // Two state buffers reused across calls (matching is synchronous, never re-entered).
  let current = new Uint8Array(n + 1);
  let next = new Uint8Array(n + 1);
  return (input: string): boolean => {
    const value = caseInsensitive ? input.toLowerCase() : input;
    current.fill(0);
    current[0] = 1;
    closure(current);
    for (let k = 0; k < value.length; k++) {
      const ch = value[k]!;
      const code = value.charCodeAt(k);
      next.fill(0);
      let alive = false;
      for (let i = 0; i < n; i++) {
        if (!current[i]) continue;
        const atom = atoms[i]!;
        if (atom.kind === 'star') {
          next[i] = 1;
          alive = true;
        } else if (atomAccepts(atom, code, ch)) {
          next[i + 1] = 1;
          alive = true;
        }
      }
      if (!alive) return false;
      closure(next);
      const swap = current;
      current = next;
      next = swap;
    }
    return current[n] === 1;
  };
}

function starLiteralMatcher(atoms: Atom[], caseInsensitive: boolean): StringMatcher {
  const pieces: string[] = [''];
  for (const a of atoms) {
    if (a.kind === 'star') pieces.push('');
    else pieces[pieces.length - 1] += (a as { ch: string }).ch;
  }
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  const middle = pieces.slice(1, -1).filter((p) => p !== '');
  const minLength = first.length + last.length;
  return (input: string): boolean => {
    const value = caseInsensitive ? input.toLowerCase() : input;
    if (value.length < minLength || !value.startsWith(first) || !value.endsWith(last)) return false;
    let pos = first.length;
    const end = value.length - last.length;
    for (const piece of middle) {
      const at = value.indexOf(piece, pos);
      if (at < 0 || at + piece.length > end) return false;
      pos = at + piece.length;
    }
    return true;
  };
}
