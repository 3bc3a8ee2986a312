import type { ModuleRole } from './catalogue';
import { foldKey } from './case-keys';
import type { Segment } from './json-path';

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Docker (Go) and edgeAgent (.NET) read JSON keys case-insensitively, and when two spellings of a
 * key are present the last one in the document wins: so do the rules (M06 reports the ambiguity;
 * case-keys.ts merges nested objects the way the runtime does).
 */
export function getKey(obj: unknown, key: string): { key: string; value: unknown } | undefined {
  if (!isObject(obj)) return undefined;
  const folded = foldKey(key);
  let found: string | undefined;
  // The length test first: most keys differ in length, and folding is the costly part.
  for (const k of Object.keys(obj)) if (k.length === key.length && (k === key || foldKey(k) === folded)) found = k;
  return found === undefined ? undefined : { key: found, value: obj[found] };
}

/** edgeAgent accepts string booleans. */
export function isTrue(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value.trim().toLowerCase() === 'true');
}

export function isFalse(value: unknown): boolean {
  return value === false || (typeof value === 'string' && value.trim().toLowerCase() === 'false');
}

/** A `${VAR}` template placeholder anywhere in the value: the value is unknown until deployment. */
export function hasTemplatePlaceholder(value: unknown): boolean {
  return typeof value === 'string' && value.includes('${');
}

export interface EnvVar {
  readonly name: string;
  /** Lower-cased, `__` read as `:` (how edgeAgent/edgeHub read their configuration). */
  readonly key: string;
  /** The literal value, or undefined when it is not a string. */
  readonly value: string | undefined;
  readonly path: Segment[];
}

/**
 * An env entry whose path is built when asked (for a finding): the entries of thousands of modules
 * are all held while a deployment is analysed, and a path array each was most of that memory.
 */
export class EnvEntry implements EnvVar {
  constructor(
    readonly name: string,
    readonly key: string,
    readonly value: string | undefined,
    /** The path of the list or section, shared by its entries. */
    private readonly prefix: readonly Segment[],
    private readonly tail: Segment,
    private readonly last?: Segment,
  ) {}

  get path(): Segment[] {
    return this.last === undefined ? [...this.prefix, this.tail] : [...this.prefix, this.tail, this.last];
  }
}

export interface MountSpec {
  /** Host path for a bind, volume name for a volume. */
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
  readonly propagation: string;
  readonly kind: 'bind' | 'volume' | 'other';
  readonly path: Segment[];
}

/**
 * One module, whatever it was read from: a manifest module (createOptions) or a running container
 * (docker inspect). Every per-module rule runs over this model only.
 */
export interface ModuleSpec {
  readonly name: string;
  readonly role: ModuleRole;
  readonly origin: 'manifest' | 'container';
  /** Docker "container create" shape: User, Env, Cmd, Entrypoint, ExposedPorts, HostConfig, NetworkingConfig. */
  readonly create: Json;
  /** Document path of a path inside `create`. */
  at(...segments: Segment[]): Segment[];
  /** Document path of the module's definition (manifest) or [] (container). */
  readonly basePath: Segment[];
  readonly image?: { value: string; path: Segment[] };
  readonly env: EnvVar[];
  readonly mounts: MountSpec[];
}

export function envKey(name: string): string {
  return name.toLowerCase().replace(/__/g, ':');
}

export function findEnv(spec: ModuleSpec, key: string): EnvVar | undefined {
  const wanted = key.toLowerCase();
  // Module `env` entries override createOptions Env in edgeAgent; the last one listed wins here too.
  let found: EnvVar | undefined;
  for (const e of spec.env) if (e.key === wanted) found = e;
  return found;
}

/** `NAME=value` entries of a Docker Env list. */
/** The entries of an Env list (`NAME=value`) at `listPath`. */
export function envFromList(list: unknown, listPath: readonly Segment[]): EnvVar[] {
  if (!Array.isArray(list)) return [];
  const out: EnvVar[] = [];
  list.forEach((entry, i) => {
    if (typeof entry !== 'string') return;
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    if (!name) return;
    out.push(new EnvEntry(name, envKey(name), eq < 0 ? undefined : entry.slice(eq + 1), listPath, i));
  });
  return out;
}

const PROPAGATIONS = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);

/** HostConfig.Binds (`src:dst[:opts]`) and HostConfig.Mounts of create options. */
export function mountsFromHostConfig(hostConfig: unknown, at: (...s: Segment[]) => Segment[]): MountSpec[] {
  const out: MountSpec[] = [];
  const binds = getKey(hostConfig, 'Binds');
  if (binds && Array.isArray(binds.value)) {
    binds.value.forEach((b, i) => {
      if (typeof b !== 'string' || hasTemplatePlaceholder(b.split(':')[0])) return;
      const parts = b.split(':');
      const source = parts[0] ?? '';
      const options = (parts[2] ?? '').split(',').map((o) => o.trim().toLowerCase());
      out.push({
        source,
        target: parts[1] ?? '',
        readOnly: options.includes('ro'),
        propagation: options.find((o) => PROPAGATIONS.has(o)) ?? '',
        kind: source.startsWith('/') ? 'bind' : 'volume',
        path: at('HostConfig', binds.key, i),
      });
    });
  }
  const mounts = getKey(hostConfig, 'Mounts');
  if (mounts && Array.isArray(mounts.value)) {
    mounts.value.forEach((m, i) => {
      if (!isObject(m)) return;
      const type = String(getKey(m, 'Type')?.value ?? 'volume').toLowerCase();
      const source = getKey(m, 'Source')?.value;
      if (typeof source !== 'string' || hasTemplatePlaceholder(source)) return;
      const propagation = getKey(getKey(m, 'BindOptions')?.value, 'Propagation')?.value;
      out.push({
        source,
        target: String(getKey(m, 'Target')?.value ?? getKey(m, 'Destination')?.value ?? ''),
        readOnly: isTrue(getKey(m, 'ReadOnly')?.value),
        propagation: typeof propagation === 'string' ? propagation.toLowerCase() : '',
        kind: type === 'bind' ? 'bind' : type === 'volume' ? 'volume' : 'other',
        path: at('HostConfig', mounts.key, i, getKey(m, 'Source')?.key ?? 'Source'),
      });
    });
  }
  return out;
}

/** Deeper than any real deployment; bounds recursion on hostile input. */
export const MAX_WALK_DEPTH = 200;

/** Nesting depth of a JSON value, counted without recursion; stops counting at `limit + 1`. */
export function nestingDepth(value: unknown, limit: number): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (d > max) max = d;
    if (max > limit) return max;
    if (v !== null && typeof v === 'object') for (const c of Object.values(v)) if (c !== null && typeof c === 'object') stack.push([c, d + 1]);
  }
  return max;
}

/**
 * Calls `visit` for every string in `value`, with its path (a fresh array the visitor may keep).
 * `skip(key, parentPath)` may leave out an object's member; its path is only valid during the call.
 * Cycles (impossible in JSON, possible in objects) are cut.
 */
export function walkStrings(
  value: unknown,
  path: readonly Segment[],
  visit: (text: string, path: Segment[]) => void,
  skip?: (key: string, parentPath: readonly Segment[]) => boolean,
): void {
  // One path stack for the whole walk, copied only for the strings found.
  const stack: Segment[] = [...path];
  const ancestors = new Set<object>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      visit(v, [...stack]);
      return;
    }
    if (v === null || typeof v !== 'object' || ancestors.has(v) || stack.length > MAX_WALK_DEPTH) return;
    ancestors.add(v);
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        stack.push(i);
        walk(item);
        stack.pop();
      });
    } else {
      for (const [k, child] of Object.entries(v)) {
        if (skip?.(k, stack)) continue;
        stack.push(k);
        walk(child);
        stack.pop();
      }
    }
    ancestors.delete(v);
  };
  walk(value);
}
