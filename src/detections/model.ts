import type { Predicate } from './compile';
import type { FieldAccessor } from './fields';
import type { Gate } from './gates';

export const ALERT_SEVERITIES = ['High', 'Medium', 'Low'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];
export const RULE_KINDS = ['match', 'threshold', 'sequence', 'first-seen', 'range', 'recommendation'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export interface RuleMeta {
  readonly id: string;
  readonly name: string;
  readonly kind: RuleKind;
  readonly severity: AlertSeverity;
  readonly tactic: string;
  readonly technique: string;
  readonly description: string;
  readonly remediation: string;
  readonly tags: readonly string[];
  /** Event types the rule looks at (every step's, for a sequence). */
  readonly events: readonly string[];
  readonly condition: string;
  /** The rules file it came from. */
  readonly file: string;
  readonly enabled: boolean;
  /** Operator list that must be non-empty for the rule to run (custom alerts: allowed lists). */
  readonly requiresList?: string;
}

export interface KeyedFields {
  readonly names: readonly string[];
  readonly get: readonly FieldAccessor[];
}

export interface CompiledStep {
  readonly events: readonly string[];
  readonly predicate: Predicate;
  readonly by: KeyedFields;
  readonly count: number;
}

/** A rule ready to run: predicates compiled, durations in ms. */
export interface CompiledRule extends RuleMeta {
  readonly predicate: Predicate;
  /** A necessary condition on ExecutableName / Arg0Name (gates.ts), for indexing; undefined: always evaluated. */
  readonly gate?: Gate;
  /** Detection key: the same key within `windowMs` is one alert with a count. */
  readonly key: KeyedFields;
  readonly windowMs: number;
  /** Alerts (new and updates) of this rule per hour at most; the rest are counted as suppressed. */
  readonly maxPerHour: number;
  readonly threshold?: { count: number; withinMs: number; by: KeyedFields };
  readonly sequence?: { withinMs: number; steps: readonly CompiledStep[] };
  readonly firstSeen?: { baseline: string; value: KeyedFields; scope: KeyedFields };
  /** Range: count matching events per tumbling window; alert when outside [min, max]. */
  readonly range?: { withinMs: number; minSetting?: string; maxSetting?: string; min: number; max: number };
}

export class RuleError extends Error {
  constructor(
    readonly file: string,
    readonly rule: string,
    readonly field: string,
    detail: string,
  ) {
    super(`${file}: rule "${rule}", ${field}: ${detail}`);
    this.name = 'RuleError';
  }
}
