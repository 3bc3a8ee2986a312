import type { SettingDefinition } from '../../config/settings';
import { createEvent, type PayloadItem } from '../../core/event';
import type { Source, SourceContext, SourceDefinition } from '../source';
import { BASELINE_CHECKS, runCheck, type BaselineCheck, type CheckOutcome } from './baseline/checks';
import { HostView } from './baseline/host-view';
import { defineEventType } from '../../core/event-types';

export const OS_BASELINE_EVENT = 'OSBaseline';
export const OS_BASELINE = defineEventType({ name: OS_BASELINE_EVENT, category: 'Periodic', defaultPriority: 'Low', schema: 'official' });

const SETTINGS: readonly SettingDefinition[] = [
  {
    name: 'osBaselineDisabledChecks',
    type: 'stringList',
    default: [],
    description: 'Ids of OS baseline checks not to run (e.g. EG-OSB-020 on a host that must forward packets).',
  },
  {
    name: 'osBaselineScanLimit',
    type: 'integer',
    default: 20_000,
    minimum: 100,
    maximum: 1_000_000,
    description: 'Most directory entries the world-writable check (EG-OSB-032) examines per snapshot; beyond it the check reports Err.',
  },
];

export interface CheckRun {
  check: BaselineCheck;
  outcome: CheckOutcome;
}

/** Runs every enabled check against the host root. */
export function runBaseline(hostRoot: string, options: { disabled?: readonly string[]; scanLimit?: number } = {}): CheckRun[] {
  const view = new HostView(hostRoot, { worldWritableScanLimit: options.scanLimit ?? 20_000 });
  const disabled = new Set(options.disabled ?? []);
  return BASELINE_CHECKS.filter((c) => !disabled.has(c.id)).map((check) => ({ check, outcome: runCheck(check, view) }));
}

/** The OSBaseline payload item of a failed or erroneous check (passed checks are not sent, as Defender does). */
export function baselineItem({ check, outcome }: CheckRun): PayloadItem {
  return {
    Description: check.description,
    CceId: check.id,
    Result: outcome.result,
    Error: outcome.result === 'Err' ? outcome.detail : '',
    Severity: check.severity,
    ExtraDetails: { ...(outcome.result === 'Fail' ? { Detail: outcome.detail } : {}), Remediation: check.remediation },
  };
}

export const osBaselineSource: SourceDefinition = {
  name: 'OSBaseline',
  description: `Snapshot of ${BASELINE_CHECKS.length} OS hardening checks (sshd, accounts, file permissions, Docker, IoT Edge, kernel parameters); failed and erroneous ones are sent.`,
  events: [OS_BASELINE],
  settings: SETTINGS,
  async start(ctx: SourceContext): Promise<Source> {
    return {
      snapshot: async () => {
        const runs = runBaseline(ctx.hostRoot, { disabled: ctx.config.stringList('osBaselineDisabledChecks'), scanLimit: ctx.config.integer('osBaselineScanLimit') });
        const errors = runs.filter((r) => r.outcome.result === 'Err');
        for (const r of errors) ctx.log.warn('baseline check could not be evaluated', { check: r.check.id, error: r.outcome.detail });
        ctx.setStatus(
          errors.length === runs.length && runs.length > 0
            ? { state: 'failed', reason: `every check failed to evaluate under host root ${ctx.hostRoot}` }
            : errors.length > 0
              ? { state: 'degraded', reason: `${errors.length} of ${runs.length} checks could not be evaluated: ${errors.map((r) => r.check.id).join(', ')}` }
              : { state: 'running' },
        );
        ctx.emit(createEvent(OS_BASELINE_EVENT, 'Periodic', runs.filter((r) => r.outcome.result !== 'Pass').map(baselineItem)));
      },
      stop: async () => undefined,
    };
  },
};
