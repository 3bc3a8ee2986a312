import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GENERATED_DOCS, staleDocs } from '../../../src/docs/generate';
import { renderRuleTable } from '../../../src/docs/rule-table';
import { renderEventTable } from '../../../src/docs/event-table';
import { renderSettingsReference, SETTINGS_DOCS, settingsDocPath, updateSettingsDoc } from '../../../src/docs/settings-reference';
import { EVENT_TYPES } from '../../../src/agent/event-registry';
import { catalogue } from '../../../src/rules/catalogue';
import { BASELINE_CHECKS } from '../../../src/sources/host/baseline/checks';
import { renderCheckTable } from '../../../src/sources/host/baseline/doc-table';
import { ALL_SOURCES } from '../../../src/sources/index';
import { settingsCatalogue } from '../../../src/agent/catalogue';

test('docs/configuration.md and the README list every setting of the catalogue (regenerate: npm run docs)', () => {
  for (const relative of SETTINGS_DOCS) {
    const doc = readFileSync(settingsDocPath(relative), 'utf8');
    assert.equal(doc, updateSettingsDoc(doc), `${relative} is stale: run \`npm run docs\``);
  }
  const reference = renderSettingsReference();
  for (const def of settingsCatalogue(ALL_SOURCES)) assert.ok(reference.includes(`| \`${def.name}\` |`), `${def.name} documented`);
});

test('the standalone example file only uses known settings', async () => {
  const { parseLocalConfig } = await import('../../../src/config/local-config-file');
  const { ConfigStore } = await import('../../../src/config/config-store');
  const { repoRoot } = await import('../../harness/paths');
  const settings = parseLocalConfig(readFileSync(`${repoRoot()}/edgeguard.example.yaml`, 'utf8'));
  const update = new ConfigStore(settingsCatalogue(ALL_SOURCES), { standalone: true }).applySection(settings);
  assert.deepEqual(update.problems, []);
  assert.deepEqual(update.unknownSettings, []);
  assert.ok(Object.keys(settings).length >= 10);
});

test('npm run docs is up to date: settings reference, OS baseline table, manifest rule table, event types, alert catalogue', () => {
  assert.deepEqual(
    GENERATED_DOCS.map((d) => d.what).filter((w, i, all) => all.indexOf(w) === i),
    ['settings reference', 'event types', 'OS baseline checks', 'manifest rules', 'alert catalogue (whole file)'],
  );
  assert.deepEqual(staleDocs(), [], 'regenerate with `npm run docs`');
  // The generated tables are complete, so "up to date" means "says everything".
  const rules = renderRuleTable();
  for (const id of catalogue().rules.keys()) assert.ok(rules.includes(`| ${id} |`), `rule ${id} in the table`);
  const checks = renderCheckTable();
  for (const c of BASELINE_CHECKS) assert.ok(checks.includes(`| ${c.id} |`), `check ${c.id} in the table`);
  const events = renderEventTable();
  for (const t of EVENT_TYPES) assert.ok(events.includes(`| ${t.name} |`), `event type ${t.name} in the table`);
});
