import { catalogue, type ModuleRole } from '../catalogue';
import { SEVERITIES, type Severity } from '../finding';
import type { Segment } from '../json-path';
import { findEnv, type ModuleSpec } from '../model';
import type { Reporter } from '../reporter';
import { echoName } from '../echo';

/** Substituted at deployment time (`${VAR}`, `$VAR`, `#{x}#`, `<x>`, `__X__`…): never a secret, never a finding. */
export function isPlaceholder(value: string): boolean {
  const v = value.trim();
  return v === '' || catalogue().secrets.placeholders.some((p) => p.test(v));
}

function literal(value: string | undefined): value is string {
  if (value === undefined) return false;
  const v = value.trim();
  return v !== '' && !isPlaceholder(v) && !v.includes('${') && !/^(true|false)$/i.test(v);
}

function tokens(name: string): string[] {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
}

/** S03: the name says it holds a secret (password, token, connection string…). */
export function isSecretName(name: string): boolean {
  const s = catalogue().secrets;
  const parts = tokens(name);
  if (parts.length === 0 || s.envNameIgnoredSuffixes.includes(parts[parts.length - 1]!)) return false;
  const lower = name.toLowerCase();
  const joined = parts.join('');
  return s.envNameFragments.some((f) => lower.includes(f) || joined.includes(f.replace(/[^a-z0-9]/g, ''))) || parts.some((t) => s.envNameTokens.includes(t));
}

/** S02 (key shape): a name like DEVICE_KEY / AccountKey / PrimaryKey. */
export function isKeyName(name: string): boolean {
  const joined = tokens(name).join('');
  return joined.endsWith('key') && catalogue().secrets.keyNameQualifiers.some((q) => joined.includes(q));
}

function oneLevelHigher(severity: Severity): Severity {
  return SEVERITIES[Math.max(0, SEVERITIES.indexOf(severity) - 1)]!;
}

/**
 * Reports a secret. On edgeAgent it becomes S06, one level higher: edgeAgent copies its env and
 * createOptions into container labels anyone who can inspect containers reads.
 */
function reportSecret(r: Reporter, ruleId: 'S02' | 'S03' | 'S04', role: ModuleRole, module: string, path: Segment[], message: string): void {
  if (role === 'edgeAgent' && ruleId !== 'S04') {
    const base = catalogue().rules.get(ruleId)!.severity;
    r.add('S06', module, path, `${message} edgeAgent stores it in a container label (${ruleId}).`, oneLevelHigher(base));
  } else {
    r.add(ruleId, module, path, message);
  }
}

export interface StringContext {
  /** Name the value is stored under (env name or object key), when there is one. */
  name?: string;
  /** The value proper: for a `NAME=value` Env entry, the part after `=`. */
  value: string;
  /** How to call the place in a message: `env X`, `createOptions Env entry X`, `property X`. */
  where: string;
}

/**
 * `Env entry NAME`, or, when the name is no plain identifier (an Env entry without `=` is all
 * "name": it may be a URL with a password), `Env entry #3` by position: never the text itself.
 */
function describeName(kind: string, name: string, path: readonly Segment[]): string {
  const shown = echoName(name);
  if (shown) return `${kind} ${shown}`;
  const last = path[path.length - 1];
  return typeof last === 'number' ? `${kind} #${last + 1}` : `${/^[aeiou]/i.test(kind) ? 'an' : 'a'} ${kind} whose name is not shown`;
}

/** `NAME=value` entries and env values get their name; other strings their key. */
export function contextOf(text: string, path: readonly Segment[], inEnvList: boolean): StringContext {
  const last = path[path.length - 1];
  if (inEnvList) {
    const eq = text.indexOf('=');
    const name = eq < 0 ? text : text.slice(0, eq);
    return { name, value: eq < 0 ? '' : text.slice(eq + 1), where: describeName('Env entry', name, path) };
  }
  if (last === 'value' && path.length >= 3 && path[path.length - 3] === 'env' && typeof path[path.length - 2] === 'string') {
    const name = path[path.length - 2] as string;
    return { name, value: text, where: describeName('env', name, path) };
  }
  if (typeof last === 'string') return { name: last, value: text, where: describeName('property', last, path) };
  const parent = path[path.length - 2];
  const parentName = typeof parent === 'string' ? echoName(parent) : undefined;
  return { name: typeof parent === 'string' ? parent : undefined, value: text, where: parentName ? `an entry of ${parentName}` : 'a string value' };
}

/** S02 and S04 on one string value. */
export function scanString(r: Reporter, ctx: StringContext, path: Segment[], module: string, role: ModuleRole): void {
  const s = catalogue().secrets;
  let hit = false;
  for (const { kind, pattern } of s.connectionStringKeys) {
    pattern.lastIndex = 0;
    for (let m = pattern.exec(ctx.value); m; m = pattern.exec(ctx.value)) {
      if (literal(m[1])) {
        reportSecret(r, 'S02', role, module, path, `${ctx.where} holds an Azure credential in clear (${kind}).`);
        hit = true;
        break;
      }
    }
    if (hit) break;
  }
  // The value test first: it is cheap, and almost no value has the shape of a key.
  if (!hit && ctx.name && s.keyValue.test(ctx.value.trim()) && isKeyName(ctx.name)) {
    reportSecret(r, 'S02', role, module, path, `${ctx.where} holds a literal base64 key of Azure key shape (${ctx.value.trim().length} characters).`);
    hit = true;
  }
  s.urlCredentials.lastIndex = 0;
  for (let m = s.urlCredentials.exec(ctx.value); m; m = s.urlCredentials.exec(ctx.value)) {
    if (literal(m[3]) && !isPlaceholder(decodeURIComponentSafe(m[3]!))) {
      reportSecret(r, 'S04', role, module, path, `${ctx.where} holds a ${m[1]!.toLowerCase()}:// URL with a user name and password in it.`);
      break;
    }
  }
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** S03 over the module's env (module `env` section and createOptions Env), S05 on edgeHub. */
export function checkEnvSecrets(r: Reporter, spec: ModuleSpec): void {
  for (const e of spec.env) {
    if (!isSecretName(e.name) || !literal(e.value)) continue;
    if (r.has('S02', spec.name, e.path) || r.has('S06', spec.name, e.path)) continue;
    reportSecret(r, 'S03', spec.role, spec.name, e.path, `${describeName(e.path.includes('env') ? 'env' : 'Env entry', e.name, e.path)} has a literal value.`);
  }
  if (spec.role === 'edgeHub') {
    const cs = findEnv(spec, 'iothubconnectionstring');
    if (cs && cs.value !== undefined && cs.value.trim() !== '') r.add('S05', spec.name, cs.path, `edgeHub env ${echoName(cs.name) ?? 'IotHubConnectionString'} is set: edgeHub must get its identity from the security daemon.`);
  }
}

/** S01: registry passwords in `runtime.settings.registryCredentials`. */
export function checkRegistryPassword(r: Reporter, module: string, name: string, password: unknown, path: Segment[]): void {
  if (typeof password === 'string' && literal(password)) r.add('S01', module, path, `registryCredentials ${echoName(name) ?? 'entry'} has its password in clear.`);
}
