/** One step of a JSON path: an object key or an array index. */
export type Segment = string | number;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/**
 * Object keys already formatted: every finding's path repeats the same few dozen keys
 * (modulesContent, HostConfig…). Emptied when full, so hostile input cannot grow it without limit.
 */
const formattedKeys = new Map<string, string>();
const MAX_FORMATTED_KEYS = 1024;

function formatKey(key: string): string {
  let text = formattedKeys.get(key);
  if (text === undefined) {
    text = IDENTIFIER.test(key) ? `.${key}` : `['${key.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
    if (formattedKeys.size >= MAX_FORMATTED_KEYS) formattedKeys.clear();
    formattedKeys.set(key, text);
  }
  return text;
}

/** `$.a.b[0]['key.with.dots']` — dotted where the key is a plain name, bracketed otherwise. */
export function formatPath(segments: readonly Segment[]): string {
  // Joined, not built with +=: a path kept in a finding is then one flat string, not a chain of a
  // rope node per segment (300+ bytes per finding with 100,000s of findings).
  const parts = ['$'];
  for (const s of segments) parts.push(typeof s === 'number' ? `[${s}]` : formatKey(s));
  return parts.join('');
}

/** Inverse of formatPath; returns undefined for text formatPath cannot have produced. */
export function parsePath(text: string): Segment[] | undefined {
  if (!text.startsWith('$')) return undefined;
  const segments: Segment[] = [];
  let i = 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '.') {
      let j = i + 1;
      while (j < text.length && text[j] !== '.' && text[j] !== '[') j++;
      if (j === i + 1) return undefined;
      segments.push(text.slice(i + 1, j));
      i = j;
    } else if (c === '[' && text[i + 1] === "'") {
      let j = i + 2;
      let key = '';
      while (j < text.length && text[j] !== "'") {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        key += text[j];
        j++;
      }
      if (text[j + 1] !== ']') return undefined;
      segments.push(key);
      i = j + 2;
    } else if (c === '[') {
      const j = text.indexOf(']', i);
      if (j < 0) return undefined;
      const n = Number(text.slice(i + 1, j));
      if (!Number.isInteger(n)) return undefined;
      segments.push(n);
      i = j + 1;
    } else {
      return undefined;
    }
  }
  return segments;
}
