import type { HostView } from './host-view';

export type BaselineSeverity = 'Critical' | 'Important' | 'Warning' | 'Informational';
export type BaselineResult = 'Pass' | 'Fail' | 'Err';

export interface CheckOutcome {
  result: BaselineResult;
  /** What was found (never file content that may be secret: names, paths, modes, setting values). */
  detail: string;
}

/** One hardening check. The table in checks.ts is the single source of the checks, the docs and the tests. */
export interface BaselineCheck {
  /** Stable id, sent as CceId: EG-OSB-NNN. Never renumbered; a removed check leaves a gap. */
  readonly id: string;
  readonly severity: BaselineSeverity;
  readonly description: string;
  readonly remediation: string;
  evaluate(host: HostView): CheckOutcome;
}
