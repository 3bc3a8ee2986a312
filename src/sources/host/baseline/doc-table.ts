import { BASELINE_CHECKS } from './checks';

export const TABLE_BEGIN = '<!-- BEGIN OSBaseline checks (generated from src/sources/host/baseline/checks.ts) -->';
export const TABLE_END = '<!-- END OSBaseline checks -->';

const cell = (text: string): string => text.replace(/\|/g, '\\|');

/** The markdown table of docs/host-snapshots.md; a test keeps the two equal. */
export function renderCheckTable(): string {
  const rows = BASELINE_CHECKS.map((c) => `| ${c.id} | ${c.severity} | ${cell(c.description)} | ${cell(c.remediation)} |`);
  return [TABLE_BEGIN, '| Id | Severity | Check (passes when…) | Remediation |', '| --- | --- | --- | --- |', ...rows, TABLE_END].join('\n');
}

if (require.main === module) process.stdout.write(`${renderCheckTable()}\n`);
