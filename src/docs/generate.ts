import { readFileSync, writeFileSync } from 'node:fs';
import { packagePath } from '../core/package-path';
import { replaceCheckTable } from '../sources/host/baseline/doc-table';
import { updateEventTable } from './event-table';
import { updateRuleTable } from './rule-table';
import { updateSettingsDoc } from './settings-reference';
import { renderAlertCatalogue } from '../detections/catalogue-doc';

/** One generated part of a document: the file and how to bring its generated block up to date. */
export interface GeneratedDoc {
  readonly file: string;
  readonly what: string;
  readonly update: (text: string) => string;
}

/** Every document part generated from code: `npm run docs` writes them, test/unit/docs/generated-docs.test.ts checks them. */
export const GENERATED_DOCS: readonly GeneratedDoc[] = [
  { file: 'README.md', what: 'settings reference', update: (t) => updateSettingsDoc(t) },
  { file: 'README.md', what: 'event types', update: updateEventTable },
  { file: 'docs/configuration.md', what: 'settings reference', update: (t) => updateSettingsDoc(t) },
  { file: 'docs/host-snapshots.md', what: 'OS baseline checks', update: replaceCheckTable },
  { file: 'docs/manifest-analysis.md', what: 'manifest rules', update: updateRuleTable },
  { file: 'docs/alerts.md', what: 'alert catalogue (whole file)', update: () => renderAlertCatalogue() },
];

/** The documents whose generated parts differ from the code, as "file (what)". */
export function staleDocs(): string[] {
  return GENERATED_DOCS.filter((d) => {
    const text = readFileSync(packagePath(d.file), 'utf8');
    return d.update(text) !== text;
  }).map((d) => `${d.file} (${d.what})`);
}

/** Rewrites every generated part; returns the files that changed. */
export function writeDocs(): string[] {
  const changed = new Set<string>();
  for (const d of GENERATED_DOCS) {
    const file = packagePath(d.file);
    const text = readFileSync(file, 'utf8');
    const next = d.update(text);
    if (next !== text) {
      writeFileSync(file, next);
      changed.add(d.file);
    }
  }
  return [...changed];
}

if (require.main === module) {
  const changed = writeDocs();
  process.stdout.write(changed.length > 0 ? `updated: ${changed.join(', ')}\n` : 'generated documentation already up to date\n');
}
