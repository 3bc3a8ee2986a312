import type { Segment } from './json-path';

/**
 * Docker (Go encoding/json) and edgeAgent (Newtonsoft.Json) read JSON keys case-insensitively:
 * `{"Privileged":false,"privileged":true}` sets Privileged twice and the last one wins; two
 * spellings of an object (`HostConfig` and `hostconfig`) are read into the same object, so their
 * members add up; Newtonsoft adds the items of a second list to the first. A reviewer (and a
 * checker that takes the first spelling) sees something else than what runs.
 *
 * `mergeCaseVariants` rebuilds a value as the runtime would apply it: one key per spelling group
 * (the last spelling), objects merged member by member, lists joined, any other value the last one.
 * Every object where spellings collide is passed to `onDuplicate` (document path, the spellings).
 */

type Json = Record<string, unknown>;

/**
 * The key as Go's encoding/json folds it for matching: ASCII case, and the two non-ASCII letters
 * whose simple case folding reaches ASCII (U+212A KELVIN SIGN is k, U+017F LONG S is s), so
 * `NetworKMode` spelt with a Kelvin sign is NetworkMode to Docker. Newtonsoft may not fold those
 * two; counting them as the same key is the cautious reading.
 */
export function foldKey(key: string): string {
  let out = key.toLowerCase();
  if (/[\u212a\u017f]/.test(out)) out = out.replace(/\u212a/g, 'k').replace(/\u017f/g, 's');
  return out;
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export type DuplicateListener = (path: Segment[], spellings: string[]) => void;

/** Deeper than any Docker create options; the caller has already refused deeper input. */
const MAX_DEPTH = 128;

/** Merges the members of several objects read into one (entries in document order). */
function mergeEntries(entries: ReadonlyArray<readonly [string, unknown]>, path: Segment[], onDuplicate: DuplicateListener | undefined, depth: number): Json {
  const groups = new Map<string, Array<readonly [string, unknown]>>();
  for (const entry of entries) {
    const lower = foldKey(entry[0]);
    const group = groups.get(lower);
    if (group) group.push(entry);
    else groups.set(lower, [entry]);
  }
  const out: Json = {};
  for (const group of groups.values()) {
    const spelling = group[group.length - 1]![0];
    const spellings = [...new Set(group.map(([k]) => k))];
    if (spellings.length > 1) onDuplicate?.([...path, spelling], spellings);
    const values = group.map(([, v]) => v);
    const childPath = [...path, spelling];
    let merged: unknown;
    if (values.length > 1 && values.every(isObject)) {
      merged = mergeEntries(values.flatMap((v) => Object.entries(v as Json)), childPath, onDuplicate, depth + 1);
    } else if (values.length > 1 && values.every(Array.isArray)) {
      merged = normalise((values as unknown[][]).flat(), childPath, onDuplicate, depth + 1);
    } else merged = normalise(values[values.length - 1], childPath, onDuplicate, depth + 1);
    if (spelling === '__proto__') Object.defineProperty(out, spelling, { value: merged, enumerable: true, writable: true, configurable: true });
    else out[spelling] = merged;
  }
  return out;
}

function normalise(value: unknown, path: Segment[], onDuplicate: DuplicateListener | undefined, depth: number): unknown {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let changed = false;
    const items = value.map((item, i) => {
      const n = normalise(item, [...path, i], onDuplicate, depth + 1);
      if (n !== item) changed = true;
      return n;
    });
    return changed ? items : value;
  }
  const entries = Object.entries(value as Json);
  // Fast path: no two keys fold to the same lower case (almost every object).
  const lower = new Set(entries.map(([k]) => foldKey(k)));
  if (lower.size === entries.length) {
    let changed = false;
    const out: Json = {};
    for (const [k, v] of entries) {
      const n = normalise(v, [...path, k], onDuplicate, depth + 1);
      if (n !== v) changed = true;
      if (k === '__proto__') Object.defineProperty(out, k, { value: n, enumerable: true, writable: true, configurable: true });
      else out[k] = n;
    }
    return changed ? out : value;
  }
  return mergeEntries(entries, path, onDuplicate, depth);
}

/** The value as Docker/edgeAgent would apply it (see above); reports each collision once. */
export function mergeCaseVariants<T>(value: T, path: Segment[], onDuplicate?: DuplicateListener): T {
  return normalise(value, path, onDuplicate, 0) as T;
}

/** Only reports the collisions (for parts of a document read key by key rather than rebuilt). */
export function findCaseVariants(value: unknown, path: Segment[], onDuplicate: DuplicateListener): void {
  normalise(value, path, onDuplicate, 0);
}
