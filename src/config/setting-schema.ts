import Ajv, { type ValidateFunction } from 'ajv';
import { MAX_SETTING_DURATION, MAX_TIMER_DELAY_MS, MIN_SETTING_DURATION, parseDuration } from '../core/duration';
import type { SettingDefinition, SettingValue } from './settings';

/** ajv format for ISO 8601 durations the agent can use: parseable and longer than zero (PT1S, PT0.5S, P1D…). */
export const DURATION_FORMAT = 'edgeguard-duration';

type JsonSchema = Record<string, unknown>;

/** A duration setting's accepted range: its own bounds, else PT0.05S … P24D; never beyond what a timer can wait. */
export function durationBounds(def: SettingDefinition): { min: string; max: string; minMs: number; maxMs: number } {
  const min = def.minimumDuration ?? MIN_SETTING_DURATION;
  const max = def.maximumDuration ?? MAX_SETTING_DURATION;
  const minMs = parseDuration(min);
  const maxMs = parseDuration(max);
  if (minMs === undefined || maxMs === undefined || minMs <= 0 || maxMs < minMs || maxMs > MAX_TIMER_DELAY_MS) {
    throw new Error(`setting ${def.name}: bad duration bounds ${min} … ${max}`);
  }
  return { min, max, minMs, maxMs };
}

/** JSON Schema of a setting's value (what goes inside `{"value": …}`). */
export function settingValueSchema(def: SettingDefinition): JsonSchema {
  switch (def.type) {
    case 'duration':
      return { type: 'string', format: DURATION_FORMAT };
    case 'integer': {
      const schema: JsonSchema = { type: 'integer' };
      if (def.minimum !== undefined) schema.minimum = def.minimum;
      if (def.maximum !== undefined) schema.maximum = def.maximum;
      return schema;
    }
    case 'boolean':
      return { type: 'boolean' };
    case 'priority':
      return { type: 'string', enum: ['Off', 'Low', 'High'] };
    case 'enum':
      return { type: 'string', enum: [...(def.values ?? [])] };
    case 'string':
      return { type: 'string' };
    case 'stringList':
      return { type: 'array', items: { type: 'string' } };
  }
}

/** The wrapped form the twin uses: `{"value": X}` (other keys tolerated). */
export function wrappedSettingSchema(def: SettingDefinition): JsonSchema {
  return { type: 'object', properties: { value: settingValueSchema(def) }, required: ['value'] };
}

/**
 * Validates setting values against their definitions; one compiled validator per setting, compiled on
 * the setting's first check (each validator is generated code kept in the heap; most settings are
 * never set, issue 12). `compileAll()` compiles every one now (tests: a schema ajv refuses fails there).
 */
export class SettingValidator {
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly definitions = new Map<string, SettingDefinition>();
  private readonly ajv: Ajv;

  constructor(catalogue: readonly SettingDefinition[]) {
    // Not validating each schema against JSON Schema's meta-schema on compile: that compiles the
    // meta-schema itself (~240 KB of heap). Our schemas come from typed definitions; compileAll()
    // (run by the tests over the whole catalogue) validates them against the meta-schema.
    this.ajv = new Ajv({ allErrors: false, strict: true, validateSchema: false });
    this.ajv.addFormat(DURATION_FORMAT, { type: 'string', validate: (text: string) => (parseDuration(text) ?? 0) > 0 });
    for (const def of catalogue) {
      if (def.type === 'integer' && (def.minimum === undefined || def.maximum === undefined)) throw new Error(`integer setting ${def.name} needs a minimum and a maximum`);
      if (def.type === 'duration') durationBounds(def);
      this.definitions.set(def.name, def);
    }
  }

  /** Validates every setting's schema against the meta-schema and compiles its validator now. */
  compileAll(): void {
    for (const [name, def] of this.definitions) {
      if (!this.ajv.validateSchema(settingValueSchema(def))) throw new Error(`setting ${name}: invalid schema: ${this.ajv.errorsText(this.ajv.errors)}`);
      this.validator(name);
    }
  }

  private validator(name: string): ValidateFunction | undefined {
    let validate = this.validators.get(name);
    const def = this.definitions.get(name);
    if (!validate && def) {
      validate = this.ajv.compile(settingValueSchema(def));
      this.validators.set(name, validate);
    }
    return validate;
  }

  /** Undefined when `value` is a valid value of setting `def`, else why not (never quoting the value). */
  check(def: SettingDefinition, value: unknown): string | undefined {
    const validate = this.validator(def.name);
    if (!validate) return 'unknown setting';
    if (!validate(value)) return expectation(def);
    if (def.type === 'duration') {
      const ms = parseDuration(value as string) ?? 0;
      const { minMs, maxMs } = durationBounds(def);
      if (!(ms >= minMs && ms <= maxMs)) return expectation(def);
    }
    return def.check?.(value as SettingValue);
  }
}

/** What a setting accepts, in words an operator can act on. */
export function expectation(def: SettingDefinition): string {
  switch (def.type) {
    case 'duration': {
      const { min, max } = durationBounds(def);
      return `expected an ISO 8601 duration from ${min} to ${max}, e.g. PT30S, PT7M, PT5H`;
    }
    case 'integer': {
      const range = [def.minimum !== undefined ? `>= ${def.minimum}` : '', def.maximum !== undefined ? `<= ${def.maximum}` : ''].filter(Boolean).join(' and ');
      return `expected an integer${range ? ' ' + range : ''}`;
    }
    case 'boolean':
      return 'expected true or false';
    case 'priority':
      return 'expected one of Off, Low, High';
    case 'enum':
      return `expected one of ${(def.values ?? []).join(', ')}`;
    case 'string':
      return 'expected a string';
    case 'stringList':
      return 'expected a list of strings';
  }
}

/**
 * A list setting may also be given as one string (twins handle arrays poorly): items separated by
 * commas or newlines. Other values pass through unchanged.
 */
export function normaliseValue(def: SettingDefinition, value: unknown): unknown {
  if (def.type === 'stringList' && typeof value === 'string') {
    return value
      .split(/[,\n]/)
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
  return value;
}

export function isSettingValue(value: unknown): value is SettingValue {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || (Array.isArray(value) && value.every((v) => typeof v === 'string'));
}
