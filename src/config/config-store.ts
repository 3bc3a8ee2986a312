import { fingerprint } from './fingerprint';
import { createEvent, type SecurityEvent } from '../core/event';
import type { Logger } from '../core/logger';
import { ConfigView } from './config-view';
import { defaultValues } from './defaults';
import { expectation, isSettingValue, normaliseValue, SettingValidator } from './setting-schema';
import { CONFIG_KEY, type SettingDefinition, type SettingValue } from './settings';

/** Defender's ConfigurationError kinds. */
export type ConfigErrorType = 'TypeMismatch' | 'NotOptimal' | 'Conflict';

/** One problem with the desired configuration, as reported in the twin and in a ConfigurationError event. */
export interface ConfigProblem {
  readonly setting: string;
  readonly errorType: ConfigErrorType;
  /** What the agent uses instead (never a string setting's value). */
  readonly usedConfiguration: string;
  readonly message: string;
  /** Identifies this occurrence (setting, kind, offending value's hash): logged and sent once. */
  readonly key: string;
}

export interface ConfigUpdate {
  readonly view: ConfigView;
  /** Settings whose effective value changed with this update. */
  readonly changedSettings: string[];
  /** Every current problem (for reported properties). */
  readonly problems: ConfigProblem[];
  /** Problems not seen in the previous update: log them, send a ConfigurationError for them. */
  readonly newProblems: ConfigProblem[];
  readonly unknownSettings: string[];
}

export interface ConfigStoreOptions {
  /** Use the catalogue's standalone defaults. */
  standalone?: boolean;
  log?: Logger;
}

/** Settings whose values may hold anything (addresses, rule text…): never quoted in errors or logs. */
function isOpaque(def: SettingDefinition): boolean {
  return def.type === 'string' || def.type === 'stringList';
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  return `a ${typeof value}`;
}

/** The offending value in an error message: its JSON type, plus a short rendering for non-opaque settings. */
function describeBad(def: SettingDefinition | undefined, value: unknown): string {
  if (def && isOpaque(def)) return jsonType(value);
  if (typeof value === 'number' || typeof value === 'boolean') return `${jsonType(value)} (${String(value)})`;
  if (typeof value === 'string' && value.length <= 32 && /^[\w.:+-]*$/.test(value)) return `${jsonType(value)} (${JSON.stringify(value)})`;
  return jsonType(value);
}

function usedText(def: SettingDefinition, value: SettingValue): string {
  if (isOpaque(def)) return 'previous value kept (not shown)';
  return String(value);
}


function sameValue(a: SettingValue | undefined, b: SettingValue | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The effective configuration built from the twin's desired properties: every setting of the catalogue,
 * from the desired value when valid, its last good value when invalid, its default when absent.
 */
export class ConfigStore {
  private readonly byName: Map<string, SettingDefinition>;
  private readonly defaults: Map<string, SettingValue>;
  private readonly validator: SettingValidator;
  private values: Map<string, SettingValue>;
  private view: ConfigView;
  private currentProblems: ConfigProblem[] = [];
  private unknown: string[] = [];
  private readonly log?: Logger;

  constructor(
    readonly catalogue: readonly SettingDefinition[],
    options: ConfigStoreOptions = {},
  ) {
    this.byName = new Map(catalogue.map((d) => [d.name, d]));
    this.defaults = defaultValues(catalogue, options.standalone ?? false);
    this.values = new Map(this.defaults);
    this.view = new ConfigView(this.values);
    this.validator = new SettingValidator(catalogue);
    this.log = options.log;
  }

  current(): ConfigView {
    return this.view;
  }

  problems(): ConfigProblem[] {
    return [...this.currentProblems];
  }

  unknownSettings(): string[] {
    return [...this.unknown];
  }

  /** Applies the FULL desired properties (the object that holds CONFIG_KEY). */
  applyDesired(desired: Record<string, unknown> | undefined): ConfigUpdate {
    return this.applySection(desired?.[CONFIG_KEY]);
  }

  /** Applies the object under CONFIG_KEY: `{ name: { value: X }, … }`. Absent or null → every default. */
  applySection(section: unknown): ConfigUpdate {
    const problems: ConfigProblem[] = [];
    const unknown: string[] = [];
    const next = new Map(this.values);

    if (section !== undefined && section !== null && (typeof section !== 'object' || Array.isArray(section))) {
      problems.push({
        setting: CONFIG_KEY,
        errorType: 'TypeMismatch',
        usedConfiguration: 'previous configuration kept',
        message: `${CONFIG_KEY}: expected an object of settings, got ${jsonType(section)}; previous configuration kept`,
        key: `${CONFIG_KEY}|TypeMismatch|${fingerprint(section)}`,
      });
    } else {
      const given = (section ?? {}) as Record<string, unknown>;
      for (const def of this.catalogue) {
        const entry = given[def.name];
        if (entry === undefined || entry === null) {
          // Removed from the twin (a null in a patch): back to the default.
          next.set(def.name, this.defaults.get(def.name)!);
          continue;
        }
        const problem = this.checkEntry(def, entry, next);
        if (problem) problems.push(problem);
      }
      for (const name of Object.keys(given)) {
        if (!this.byName.has(name) && !name.startsWith('$') && given[name] !== null) unknown.push(name);
      }
    }

    problems.push(...this.consistencyProblems(next));
    const changedSettings = this.catalogue.filter((d) => !sameValue(this.values.get(d.name), next.get(d.name))).map((d) => d.name);
    const seen = new Set(this.currentProblems.map((p) => p.key));
    const newProblems = problems.filter((p) => !seen.has(p.key));
    const newUnknown = unknown.filter((n) => !this.unknown.includes(n));

    if (changedSettings.length > 0) {
      this.values = next;
      this.view = new ConfigView(next);
    }
    this.currentProblems = problems;
    this.unknown = unknown;
    for (const p of newProblems) this.log?.warn('configuration problem', { setting: p.setting, errorType: p.errorType, detail: p.message });
    for (const name of newUnknown.slice(0, 20)) this.log?.warn('unknown setting ignored', { setting: name });
    if (newUnknown.length > 20) this.log?.warn('more unknown settings ignored', { count: newUnknown.length - 20 });
    return { view: this.view, changedSettings, problems, newProblems, unknownSettings: unknown };
  }

  /** Validates one wrapped desired entry into `next`; returns the problem when it is not usable. */
  private checkEntry(def: SettingDefinition, entry: unknown, next: Map<string, SettingValue>): ConfigProblem | undefined {
    const kept = next.get(def.name)!;
    let why: string | undefined;
    let bad: unknown = entry;
    if (typeof entry !== 'object' || Array.isArray(entry) || !('value' in (entry as object))) {
      why = `expected {"value": …}, got ${describeBad(def, entry)}`;
    } else {
      const value = normaliseValue(def, (entry as { value: unknown }).value);
      bad = value;
      const invalid = this.validator.check(def, value);
      if (!invalid && isSettingValue(value)) {
        next.set(def.name, value);
        return undefined;
      }
      why = `${invalid ?? expectation(def)}, got ${describeBad(def, value)}`;
    }
    return {
      setting: def.name,
      errorType: 'TypeMismatch',
      usedConfiguration: usedText(def, kept),
      message: `${def.name}: ${why}; keeping ${isOpaque(def) ? 'the previous value' : String(kept)}`,
      key: `${def.name}|TypeMismatch|${fingerprint(bad)}`,
    };
  }

  /** Valid values that do not fit together or waste the 4 KB billing unit. They are used as given. */
  private consistencyProblems(values: Map<string, SettingValue>): ConfigProblem[] {
    const out: ConfigProblem[] = [];
    const num = (n: string) => Number(values.get(n));
    const dur = (n: string) => new ConfigView(values).durationMs(n);
    if (this.byName.has('maxMessageSizeInBytes')) {
      const size = num('maxMessageSizeInBytes');
      if (size % 4096 !== 0) {
        out.push({
          setting: 'maxMessageSizeInBytes',
          errorType: 'NotOptimal',
          usedConfiguration: String(size),
          message: `maxMessageSizeInBytes ${size} is not a multiple of 4096: IoT Hub bills messages in 4 KB units`,
          key: `maxMessageSizeInBytes|NotOptimal|${size}`,
        });
      }
      if (this.byName.has('maxLocalCacheSizeInBytes')) {
        const cache = num('maxLocalCacheSizeInBytes');
        if (cache < size) {
          out.push({
            setting: 'maxLocalCacheSizeInBytes',
            errorType: 'Conflict',
            usedConfiguration: String(cache),
            message: `maxLocalCacheSizeInBytes ${cache} is smaller than maxMessageSizeInBytes ${size}: no message can be full`,
            key: `maxLocalCacheSizeInBytes|Conflict|${cache}|${size}`,
          });
        }
      }
    }
    if (this.byName.has('highPriorityMessageFrequency') && this.byName.has('lowPriorityMessageFrequency')) {
      const high = values.get('highPriorityMessageFrequency');
      const low = values.get('lowPriorityMessageFrequency');
      if (dur('highPriorityMessageFrequency') > dur('lowPriorityMessageFrequency')) {
        out.push({
          setting: 'highPriorityMessageFrequency',
          errorType: 'Conflict',
          usedConfiguration: String(high),
          message: `highPriorityMessageFrequency ${String(high)} is longer than lowPriorityMessageFrequency ${String(low)}`,
          key: `highPriorityMessageFrequency|Conflict|${String(high)}|${String(low)}`,
        });
      }
    }
    return out;
  }

  /** Every setting's effective value, wrapped as the twin wants it: `{ name: { value: X } }`. */
  reportedConfiguration(): Record<string, { value: SettingValue }> {
    const out: Record<string, { value: SettingValue }> = {};
    for (const def of this.catalogue) out[def.name] = { value: this.values.get(def.name)! };
    return out;
  }
}

/** One ConfigurationError event (Operational, Triggered) holding `problems`, per Defender's schema. */
export function configurationErrorEvent(problems: readonly ConfigProblem[], now = new Date()): SecurityEvent {
  return createEvent(
    'ConfigurationError',
    'Triggered',
    problems.map((p) => ({ ConfigurationName: p.setting, ErrorType: p.errorType, UsedConfiguration: p.usedConfiguration, Message: p.message })),
    { eventType: 'Operational', now },
  );
}
