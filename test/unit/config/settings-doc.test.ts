import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderSettingsReference, settingsDocPath, updateSettingsDoc } from '../../../src/config/settings-doc';
import { buildCatalogue } from '../../../src/config/settings';
import { ALL_SOURCES, sourceSettings } from '../../../src/sources/index';

test('docs/configuration.md lists every setting of the catalogue (regenerate: node dist/src/config/settings-doc.js)', () => {
  const doc = readFileSync(settingsDocPath(), 'utf8');
  assert.equal(doc, updateSettingsDoc(doc), 'docs/configuration.md is stale: run `npm run build && node dist/src/config/settings-doc.js`');
  const reference = renderSettingsReference();
  for (const def of buildCatalogue(sourceSettings(ALL_SOURCES))) assert.ok(reference.includes(`| \`${def.name}\` |`), `${def.name} documented`);
});

test('the standalone example file only uses known settings', async () => {
  const { parseLocalConfig } = await import('../../../src/config/local-config-file');
  const { ConfigStore } = await import('../../../src/config/config-store');
  const { repoRoot } = await import('../../harness/paths');
  const settings = parseLocalConfig(readFileSync(`${repoRoot()}/edgeguard.example.yaml`, 'utf8'));
  const update = new ConfigStore(buildCatalogue(sourceSettings(ALL_SOURCES)), { standalone: true }).applySection(settings);
  assert.deepEqual(update.problems, []);
  assert.deepEqual(update.unknownSettings, []);
  assert.ok(Object.keys(settings).length >= 10);
});
