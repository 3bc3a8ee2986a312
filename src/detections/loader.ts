import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDuration } from '../core/duration';
import { loadYaml, YamlError } from '../core/yaml';
import { compileCondition, CompileError, type Definitions } from './compile';
import { ConditionSyntaxError } from './condition';
import { EVENT_FIELDS, resolveField } from './fields';
import { conditionGate } from './gates';
import { ALERT_SEVERITIES, RULE_KINDS, RuleError, type AlertSeverity, type CompiledRule, type CompiledStep, type KeyedFields, type RuleKind } from './model';

/** Raw YAML documents: the items of every rules file, with the file each came from. */
export interface RuleSource {
  readonly file: string;
  readonly text: string;
}

type Obj = Record<string, unknown>;

const ID = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const NAME = /^[a-z_][a-z0-9_]*$/;
const TECHNIQUE = /^T\d{4}(\.\d{3})?$/;
export const DEFAULT_WINDOW = 'PT10M';
export const DEFAULT_MAX_PER_HOUR = 30;
const KNOWN_RULE_KEYS = new Set([
  'rule', 'id', 'name', 'kind', 'events', 'condition', 'severity', 'tactic', 'technique', 'description', 'remediation', 'tags', 'key', 'window',
  'maxPerHour', 'threshold', 'sequence', 'baseline', 'range', 'enabled', 'requiresList',
]);

/** The shipped rules directory: beside this file or, from dist/src/detections, in the source tree. */
export function shippedRulesDir(): string {
  const candidates = [path.join(__dirname, 'rules'), path.resolve(__dirname, '../../../src/detections/rules')];
  return candidates.find((dir) => existsSync(path.join(dir, 'lists.yaml'))) ?? candidates[0]!;
}

export function shippedRuleSources(): RuleSource[] {
  const dir = shippedRulesDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({ file: path.join('src/detections/rules', f), text: readFileSync(path.join(dir, f), 'utf8') }));
}

function str(doc: Obj, key: string, file: string, rule: string, required = true): string | undefined {
  const v = doc[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new RuleError(file, rule, key, 'must be a non-empty string');
  return v.trim();
}

function strList(v: unknown, file: string, rule: string, key: string): string[] {
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' && typeof x !== 'number')) throw new RuleError(file, rule, key, 'must be a list of strings');
  return v.map(String);
}

function duration(v: unknown, file: string, rule: string, key: string): number {
  const ms = typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms === undefined || ms <= 0) throw new RuleError(file, rule, key, `must be an ISO 8601 duration such as PT5M, got ${JSON.stringify(v)}`);
  return ms;
}

function count(v: unknown, file: string, rule: string, key: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 1_000_000) throw new RuleError(file, rule, key, `must be an integer from ${min} to 1000000`);
  return v;
}

/** Parses every file: lists and macros first (shared), then rules. Later files may extend lists with `append: true`. */
export function parseSources(sources: readonly RuleSource[]): { defs: Definitions; rules: Array<{ file: string; doc: Obj }> } {
  const defs: Definitions = { lists: new Map(), macros: new Map() };
  const rules: Array<{ file: string; doc: Obj }> = [];
  for (const { file, text } of sources) {
    let parsed: unknown;
    try {
      // Aliases refused, nesting bounded (src/core/yaml.ts): the operator's file is read like every other YAML.
      parsed = loadYaml(text);
    } catch (err) {
      const where = err instanceof YamlError && err.line !== undefined ? ` (line ${err.line})` : '';
      throw new RuleError(file, '-', 'yaml', `${(err as Error).message}${where}`);
    }
    if (parsed === null || parsed === undefined) continue;
    if (!Array.isArray(parsed)) throw new RuleError(file, '-', 'yaml', 'a rules file is a list of list:, macro: and rule: items');
    for (const [index, item] of parsed.entries()) {
      if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new RuleError(file, `#${index + 1}`, 'item', 'must be a mapping');
      const doc = item as Obj;
      if ('list' in doc) {
        const name = doc.list;
        if (typeof name !== 'string' || !NAME.test(name)) throw new RuleError(file, `#${index + 1}`, 'list', 'list names are lower_snake_case');
        const items = strList(doc.items ?? [], file, name, 'items');
        const previous = defs.lists.get(name);
        if (previous && doc.append !== true) throw new RuleError(file, name, 'list', 'defined twice (use append: true to extend it)');
        defs.lists.set(name, previous ? [...previous, ...items] : items);
      } else if ('macro' in doc) {
        const name = doc.macro;
        if (typeof name !== 'string' || !NAME.test(name)) throw new RuleError(file, `#${index + 1}`, 'macro', 'macro names are lower_snake_case');
        const condition = str(doc, 'condition', file, name)!;
        if (defs.macros.has(name) && doc.append !== true) throw new RuleError(file, name, 'macro', 'defined twice (use append: true to extend it with "or")');
        const previous = defs.macros.get(name);
        defs.macros.set(name, previous ? `(${previous}) or (${condition})` : condition);
      } else if ('rule' in doc) rules.push({ file, doc });
      else throw new RuleError(file, `#${index + 1}`, 'item', 'is none of list:, macro:, rule:');
    }
  }
  return { defs, rules };
}

function keyed(names: string[], events: readonly string[], file: string, rule: string, field: string): KeyedFields {
  const get = names.map((n) => {
    const accessor = resolveField(n, events);
    if (typeof accessor === 'string') throw new RuleError(file, rule, field, accessor);
    return accessor;
  });
  return { names, get };
}

function events(v: unknown, file: string, rule: string): string[] {
  const list = strList(v, file, rule, 'events');
  if (list.length === 0) throw new RuleError(file, rule, 'events', 'needs at least one event type');
  for (const e of list) if (!(e in EVENT_FIELDS)) throw new RuleError(file, rule, 'events', `unknown event type "${e}"`);
  return list;
}

function predicate(text: string, defs: Definitions, evts: readonly string[], file: string, rule: string, where: string) {
  try {
    return compileCondition(text, defs, evts);
  } catch (err) {
    if (err instanceof CompileError) throw new RuleError(file, rule, err.field ? `${where} (field ${err.field})` : where, err.message);
    if (err instanceof ConditionSyntaxError) throw new RuleError(file, rule, where, err.message);
    throw err;
  }
}

/** The default detection key of an event type: what the alert is about. */
function defaultKey(evts: readonly string[]): string[] {
  const e = evts[0];
  if (e === 'ProcessCreate' || e === 'ProcessTerminate') return ['Executable', 'ContainerRef'];
  if (e === 'Login') return ['UserName', 'RemoteAddress'];
  if (e === 'ConnectionCreate') return ['Executable', 'RemoteAddress'];
  if (e === 'ContainerActivity') return ['ContainerName', 'Action'];
  if (e === 'KernelModuleLoad' || e === 'KernelModules') return ['Name'];
  return [];
}

export function compileRule(file: string, doc: Obj, defs: Definitions): CompiledRule {
  const name = typeof doc.rule === 'string' ? doc.rule : '?';
  for (const key of Object.keys(doc)) if (!KNOWN_RULE_KEYS.has(key)) throw new RuleError(file, name, key, 'unknown rule key');
  const id = str(doc, 'id', file, name)!;
  if (!ID.test(id)) throw new RuleError(file, name, 'id', 'must be letters, digits, . _ - (64 at most), starting with a letter');
  const kind = (doc.kind ?? 'match') as RuleKind;
  if (!RULE_KINDS.includes(kind)) throw new RuleError(file, name, 'kind', `must be one of ${RULE_KINDS.join(', ')}`);
  const severity = doc.severity as AlertSeverity;
  if (!ALERT_SEVERITIES.includes(severity)) throw new RuleError(file, name, 'severity', `must be one of ${ALERT_SEVERITIES.join(', ')}`);
  const technique = str(doc, 'technique', file, name, kind !== 'recommendation') ?? '';
  if (technique !== '' && !TECHNIQUE.test(technique)) throw new RuleError(file, name, 'technique', 'must be a MITRE ATT&CK technique ID such as T1059 or T1059.004');
  const tactic = str(doc, 'tactic', file, name, kind !== 'recommendation') ?? '';
  const description = str(doc, 'description', file, name)!;
  const remediation = str(doc, 'remediation', file, name)!;
  const tags = doc.tags === undefined ? [] : strList(doc.tags, file, name, 'tags');
  const enabled = doc.enabled === undefined ? true : doc.enabled === true;
  const requiresList = doc.requiresList === undefined ? undefined : str(doc, 'requiresList', file, name);
  if (requiresList !== undefined && !defs.lists.has(requiresList)) throw new RuleError(file, name, 'requiresList', `unknown list "${requiresList}"`);
  const windowMs = duration(doc.window ?? DEFAULT_WINDOW, file, name, 'window');
  const maxPerHour = doc.maxPerHour === undefined ? DEFAULT_MAX_PER_HOUR : count(doc.maxPerHour, file, name, 'maxPerHour');

  let evts: string[];
  let condition: string;
  let extra: Partial<CompiledRule> = {};
  let pred;
  if (kind === 'sequence') {
    const seq = doc.sequence as Obj | undefined;
    if (!seq || typeof seq !== 'object' || !Array.isArray(seq.steps) || seq.steps.length !== 2) throw new RuleError(file, name, 'sequence', 'needs within and exactly two steps');
    const withinMs = duration(seq.within, file, name, 'sequence.within');
    const steps: CompiledStep[] = (seq.steps as unknown[]).map((raw, i) => {
      const s = raw as Obj;
      const where = `sequence.steps[${i}]`;
      const stepEvents = events(s.events, file, name);
      const text = str(s, 'condition', file, name) ?? '';
      return {
        events: stepEvents,
        predicate: predicate(text, defs, stepEvents, file, name, `${where}.condition`),
        by: keyed(strList(s.by, file, name, `${where}.by`), stepEvents, file, name, `${where}.by`),
        count: s.count === undefined ? 1 : count(s.count, file, name, `${where}.count`),
      };
    });
    if (steps[0]!.by.names.length !== steps[1]!.by.names.length) throw new RuleError(file, name, 'sequence.steps', 'both steps need as many by fields');
    evts = [...new Set(steps.flatMap((s) => s.events))];
    condition = (seq.steps as Obj[]).map((s) => `(${String(s.condition)})`).join(' then ');
    pred = () => false;
    extra = { sequence: { withinMs, steps } };
  } else {
    evts = events(doc.events, file, name);
    condition = str(doc, 'condition', file, name)!;
    pred = predicate(condition, defs, evts, file, name, 'condition');
    if (kind === 'threshold') {
      const t = doc.threshold as Obj | undefined;
      if (!t || typeof t !== 'object') throw new RuleError(file, name, 'threshold', 'needs count, within and by');
      extra = { threshold: { count: count(t.count, file, name, 'threshold.count', 2), withinMs: duration(t.within, file, name, 'threshold.within'), by: keyed(strList(t.by ?? [], file, name, 'threshold.by'), evts, file, name, 'threshold.by') } };
    } else if (kind === 'first-seen') {
      const b = doc.baseline as Obj | undefined;
      if (!b || typeof b !== 'object' || typeof b.category !== 'string') throw new RuleError(file, name, 'baseline', 'needs category and value');
      extra = {
        firstSeen: {
          baseline: b.category,
          value: keyed(strList(b.value, file, name, 'baseline.value'), evts, file, name, 'baseline.value'),
          scope: keyed(b.scope === undefined ? [] : strList(b.scope, file, name, 'baseline.scope'), evts, file, name, 'baseline.scope'),
        },
      };
    } else if (kind === 'range') {
      const r = doc.range as Obj | undefined;
      if (!r || typeof r !== 'object') throw new RuleError(file, name, 'range', 'needs within and min/max (numbers or setting names)');
      const bound = (v: unknown, key: string, fallback: number): { n: number; setting?: string } =>
        v === undefined ? { n: fallback } : typeof v === 'string' ? { n: fallback, setting: v } : { n: count(v, file, name, `range.${key}`, 0) };
      const min = bound(r.min, 'min', 0);
      const max = bound(r.max, 'max', Number.MAX_SAFE_INTEGER);
      extra = { range: { withinMs: duration(r.within, file, name, 'range.within'), min: min.n, max: max.n, minSetting: min.setting, maxSetting: max.setting } };
    }
  }
  const keyNames = doc.key === undefined ? defaultKey(evts) : strList(doc.key, file, name, 'key');
  return {
    id, name, kind, severity, tactic, technique, description, remediation, tags, events: evts, condition, file, enabled, requiresList,
    predicate: pred,
    gate: kind === 'sequence' || evts.some((e) => e !== 'ProcessCreate') ? undefined : conditionGate(condition, defs),
    key: keyed(keyNames, evts, file, name, 'key'),
    windowMs,
    maxPerHour,
    ...extra,
  };
}

/** Loads and compiles every rule; throws RuleError naming file, rule and field on the first problem. */
export function compileRules(sources: readonly RuleSource[]): { rules: CompiledRule[]; defs: Definitions } {
  const { defs, rules } = parseSources(sources);
  const compiled: CompiledRule[] = [];
  const ids = new Map<string, string>();
  for (const { file, doc } of rules) {
    const rule = compileRule(file, doc, defs);
    const other = ids.get(rule.id);
    if (other !== undefined) throw new RuleError(file, rule.name, 'id', `${rule.id} is already used by "${other}"`);
    ids.set(rule.id, rule.name);
    compiled.push(rule);
  }
  return { rules: compiled, defs };
}
