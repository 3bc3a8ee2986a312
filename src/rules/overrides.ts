import { loadYaml, YamlError } from '../core/yaml';
import { catalogue } from './catalogue';
import { SEVERITIES, type Finding, type Severity } from './finding';

/** One override of a rule: switch it off and/or re-grade it, everywhere or for some modules. */
export interface RuleOverride {
  readonly enabled: boolean;
  readonly severity?: Severity;
  /** Module names (`*` matches any run of characters); absent = every module. */
  readonly modules?: readonly string[];
}

export type RuleOverrides = ReadonlyMap<string, readonly RuleOverride[]>;

export class RuleConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuleConfigError';
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function parseOne(id: string, raw: unknown, where: string): RuleOverride {
  if (!isObj(raw)) throw new RuleConfigError(`${where}: expected a mapping with enabled, severity and/or modules`);
  for (const key of Object.keys(raw)) if (!['enabled', 'severity', 'modules'].includes(key)) throw new RuleConfigError(`${where}: unknown key "${key}" (allowed: enabled, severity, modules)`);
  const { enabled, severity, modules } = raw;
  if (enabled !== undefined && typeof enabled !== 'boolean') throw new RuleConfigError(`${where}.enabled: expected true or false`);
  let sev: Severity | undefined;
  if (severity !== undefined) {
    const match = SEVERITIES.find((s) => typeof severity === 'string' && s.toLowerCase() === severity.trim().toLowerCase());
    if (!match) throw new RuleConfigError(`${where}.severity: expected one of ${SEVERITIES.join(', ')}`);
    sev = match;
  }
  if (modules !== undefined && (!Array.isArray(modules) || !modules.every((m) => typeof m === 'string' && m !== ''))) {
    throw new RuleConfigError(`${where}.modules: expected a list of module names`);
  }
  return { enabled: enabled ?? true, severity: sev, modules: modules as string[] | undefined };
}

/**
 * Reads the suppression settings (same format for the twin setting and `edgeguard scan --config`):
 *
 *     rules:
 *       C19: { enabled: false }                   # off everywhere
 *       R01: { severity: Low, modules: [sensor] } # re-graded for one module
 *       I02: [ { enabled: false, modules: ['sim*'] }, { severity: Low } ]
 */
export function parseRuleOverrides(input: unknown): RuleOverrides {
  const map = new Map<string, RuleOverride[]>();
  if (input === undefined || input === null) return map;
  if (!isObj(input)) throw new RuleConfigError('rule settings: expected a mapping with a "rules" key');
  for (const key of Object.keys(input)) if (key !== 'rules') throw new RuleConfigError(`rule settings: unknown key "${key}" (expected "rules")`);
  const rules = input.rules;
  if (rules === undefined || rules === null) return map;
  if (!isObj(rules)) throw new RuleConfigError('rules: expected a mapping of rule IDs');
  const known = catalogue().rules;
  for (const [rawId, value] of Object.entries(rules)) {
    const id = rawId.trim().toUpperCase();
    if (!known.has(id)) throw new RuleConfigError(`rules.${rawId}: unknown rule ID`);
    const list = Array.isArray(value) ? value : [value];
    map.set(id, list.map((v, i) => parseOne(id, v, Array.isArray(value) ? `rules.${rawId}[${i}]` : `rules.${rawId}`)));
  }
  return map;
}

/** Rule settings from YAML or JSON text; the empty text means no overrides. */
export function parseRuleOverridesText(text: string): RuleOverrides {
  if (text.trim() === '') return new Map();
  let parsed: unknown;
  try {
    parsed = loadYaml(text);
  } catch (error) {
    const e = error instanceof YamlError ? error : undefined;
    const where = e?.line !== undefined ? ` at line ${e.line}, column ${e.column ?? 1}` : '';
    const aliases = e && /aliases/.test(e.message) ? ' (YAML aliases are not accepted)' : '';
    throw new RuleConfigError(`rule settings are not valid YAML or JSON${where}${aliases}`);
  }
  return parseRuleOverrides(parsed);
}

/**
 * `*` matches any run of characters. No regex: the pieces between the stars are found left to
 * right (the leftmost match of each is always the right choice), so the cost is linear in the name
 * for each piece, whatever the pattern (a pattern like `a*a*a*…b` made a regex backtrack for seconds).
 */
export function globMatch(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const pieces = pattern.split('*');
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  if (name.length < first.length + last.length || !name.startsWith(first) || !name.endsWith(last)) return false;
  let at = first.length;
  const end = name.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i]!;
    if (piece === '') continue;
    const found = name.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

/** Module-specific overrides win over general ones; among equals, the last listed wins. */
function overrideFor(overrides: RuleOverrides, ruleId: string, module: string): RuleOverride | undefined {
  const list = overrides.get(ruleId);
  if (!list) return undefined;
  let general: RuleOverride | undefined;
  let specific: RuleOverride | undefined;
  for (const o of list) {
    if (!o.modules) general = o;
    else if (o.modules.some((m) => globMatch(m, module))) specific = o;
  }
  return specific ?? general;
}

export function applyOverrides(findings: readonly Finding[], overrides: RuleOverrides | undefined): Finding[] {
  if (!overrides || overrides.size === 0) return [...findings];
  const out: Finding[] = [];
  for (const f of findings) {
    const o = overrideFor(overrides, f.ruleId, f.module);
    if (!o) out.push(f);
    else if (o.enabled) out.push(o.severity ? { ...f, severity: o.severity } : f);
  }
  return out;
}
