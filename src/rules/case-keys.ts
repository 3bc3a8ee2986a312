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
  // toLowerCase already maps U+212A to k; only the long s is left.
  const out = key.toLowerCase();
  return out.includes('\u017f') ? out.replace(/\u017f/g, 's') : out;
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export type DuplicateListener = (path: Segment[], spellings: string[]) => void;

/** Deeper than any Docker create options; the caller has already refused deeper input. */
const MAX_DEPTH = 128;

/** One walk: the path is a shared stack, copied only when a collision is reported. */
class Normaliser {
  private readonly path: Segment[];

  constructor(
    base: readonly Segment[],
    private readonly onDuplicate: DuplicateListener | undefined,
  ) {
    this.path = [...base];
  }

  value(value: unknown, depth: number): unknown {
    if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) {
      let changed = false;
      const items = value.map((item, i) => {
        const n = this.child(i, item, depth);
        if (n !== item) changed = true;
        return n;
      });
      return changed ? items : value;
    }
    const entries = Object.entries(value as Json);
    // Fast path: no two keys fold to the same lower case (almost every object).
    const folded = new Set<string>();
    for (const [k] of entries) folded.add(foldKey(k));
    if (folded.size === entries.length) {
      let changed = false;
      const out: Json = {};
      for (const [k, v] of entries) {
        const n = this.child(k, v, depth);
        if (n !== v) changed = true;
        setMember(out, k, n);
      }
      return changed ? out : value;
    }
    return this.merge(entries, depth);
  }

  private child(segment: Segment, value: unknown, depth: number): unknown {
    if (value === null || typeof value !== 'object') return value;
    this.path.push(segment);
    try {
      return this.value(value, depth + 1);
    } finally {
      this.path.pop();
    }
  }

  /** Merges the members of several objects read into one (entries in document order). */
  private merge(entries: ReadonlyArray<readonly [string, unknown]>, depth: number): Json {
    const groups = new Map<string, Array<readonly [string, unknown]>>();
    for (const entry of entries) {
      const key = foldKey(entry[0]);
      const group = groups.get(key);
      if (group) group.push(entry);
      else groups.set(key, [entry]);
    }
    const out: Json = {};
    for (const group of groups.values()) {
      const spelling = group[group.length - 1]![0];
      const spellings = [...new Set(group.map(([k]) => k))];
      if (spellings.length > 1) this.onDuplicate?.([...this.path, spelling], spellings);
      const values = group.map(([, v]) => v);
      let merged: unknown;
      this.path.push(spelling);
      try {
        if (values.length > 1 && values.every(isObject)) merged = this.merge(values.flatMap((v) => Object.entries(v as Json)), depth + 1);
        else if (values.length > 1 && values.every(Array.isArray)) merged = this.value((values as unknown[][]).flat(), depth + 1);
        else merged = this.value(values[values.length - 1], depth + 1);
      } finally {
        this.path.pop();
      }
      setMember(out, spelling, merged);
    }
    return out;
  }
}

function setMember(out: Json, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** The value as Docker/edgeAgent would apply it (see above); reports each collision once. */
export function mergeCaseVariants<T>(value: T, path: Segment[], onDuplicate?: DuplicateListener): T {
  return new Normaliser(path, onDuplicate).value(value, 0) as T;
}

/** Only reports the collisions (for parts of a document read key by key rather than rebuilt). */
export function findCaseVariants(value: unknown, path: Segment[], onDuplicate: DuplicateListener): void {
  new Normaliser(path, onDuplicate).value(value, 0);
}
