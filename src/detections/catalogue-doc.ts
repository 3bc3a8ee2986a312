import { DERIVED_FIELDS } from './fields';
import { compileRules, shippedRuleSources } from './loader';
import type { CompiledRule } from './model';

/** docs/alerts.md is generated from the shipped rules (npm run docs, src/docs/generate.ts); a test checks it. */
export const ALERTS_DOC = 'docs/alerts.md';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ').trim();
}

function minutes(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${ms / 60_000} min`;
}

function kindText(r: CompiledRule): string {
  if (r.threshold) return `threshold: ${r.threshold.count} in ${minutes(r.threshold.withinMs)} by ${r.threshold.by.names.join(', ')}`;
  if (r.sequence) return `sequence: ${r.sequence.steps[0]!.count}× then 1 in ${minutes(r.sequence.withinMs)} by ${r.sequence.steps[0]!.by.names.join(', ')}`;
  if (r.firstSeen) return `first-seen (${r.firstSeen.baseline})`;
  if (r.range) return `range per ${minutes(r.range.withinMs)}`;
  return r.kind;
}

export function renderAlertCatalogue(rules: readonly CompiledRule[] = compileRules(shippedRuleSources()).rules): string {
  const alerts = rules.filter((r) => r.kind !== 'recommendation');
  const recs = rules.filter((r) => r.kind === 'recommendation');
  const lines = [
    '# Alert and recommendation catalogue',
    '',
    '<!-- generated from src/detections/rules/*.yaml by npm run docs -->',
    '',
    `${alerts.length} alert rules and ${recs.length} recommendation rules ship with EdgeGuard. How they work, how to tune them and`,
    'how to write your own: [detections.md](detections.md).',
    '',
    '## Alerts (SecurityAlert)',
    '',
    '| ID | Name | Severity | Kind | MITRE ATT&CK | Events | Description | Remediation | Off unless |',
    '|---|---|---|---|---|---|---|---|---|',
    ...alerts.map(
      (r) =>
        `| ${r.id} | ${cell(r.name)} | ${r.severity} | ${kindText(r)} | ${cell(r.tactic)} ${r.technique} | ${r.events.join(', ')} | ${cell(r.description)} | ${cell(r.remediation)} | ${r.requiresList ? `list ${r.requiresList} set` : r.range ? `${[r.range.minSetting, r.range.maxSetting].filter(Boolean).join(' or ')} set` : ''} |`,
    ),
    '',
    '## Recommendations (SecurityRecommendation)',
    '',
    '| ID | Name | Severity | Snapshot | Description | Remediation |',
    '|---|---|---|---|---|---|',
    ...recs.map((r) => `| ${r.id} | ${cell(r.name)} | ${r.severity} | ${r.events.join(', ')} | ${cell(r.description)} | ${cell(r.remediation)} |`),
    '',
    '## Computed fields',
    '',
    'Besides the payload fields of each event type (and `ExtraDetails.<Name>`), conditions can use:',
    '',
    '| Field | Meaning |',
    '|---|---|',
    ...Object.entries(DERIVED_FIELDS).map(([name, f]) => `| \`${name}\` | ${cell(f.description)} |`),
    '',
  ];
  return lines.join('\n');
}
