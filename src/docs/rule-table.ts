import { catalogue } from '../rules/catalogue';
import { cell, replaceBetween } from './markers';

export const RULES_BEGIN = '<!-- rules:begin (generated from src/rules/catalogue.yaml: npm run docs) -->';
export const RULES_END = '<!-- rules:end -->';

/** The rule table of docs/manifest-analysis.md, from the rule catalogue. */
export function renderRuleTable(): string {
  const rows = [...catalogue().rules.values()].map((r) => `| ${r.id} | ${r.severity} | ${cell(r.title)} |`);
  return ['| ID | Default severity | Title |', '|---|---|---|', ...rows].join('\n');
}

export function updateRuleTable(doc: string): string {
  return replaceBetween(doc, RULES_BEGIN, RULES_END, renderRuleTable(), 'docs/manifest-analysis.md');
}
