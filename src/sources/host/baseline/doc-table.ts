import { BASELINE_CHECKS } from './checks';

export const TABLE_BEGIN = '<!-- BEGIN OSBaseline checks (generated from src/sources/host/baseline/checks.ts) -->';
export const TABLE_END = '<!-- END OSBaseline checks -->';

const cell = (text: string): string => text.replace(/\|/g, '\\|');

/** The markdown table of docs/host-snapshots.md (written by `npm run docs`); a test keeps the two equal. */
export function renderCheckTable(): string {
  const rows = BASELINE_CHECKS.map((c) => `| ${c.id} | ${c.severity} | ${cell(c.description)} | ${cell(c.remediation)} |`);
  return [TABLE_BEGIN, '| Id | Severity | Check (passes when…) | Remediation |', '| --- | --- | --- | --- |', ...rows, TABLE_END].join('\n');
}

/** `text` with the part between the markers replaced by the current table. */
export function replaceCheckTable(text: string): string {
  const start = text.indexOf(TABLE_BEGIN);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error('check table markers not found');
  return text.slice(0, start) + renderCheckTable() + text.slice(end + TABLE_END.length);
}
