import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GENERATED_DOCS, renderSettingsReference, settingsDocPath, updateSettingsDoc } from '../../../src/docs/settings-reference';
import { ALL_SOURCES } from '../../../src/sources/index';
import { settingsCatalogue } from '../../../src/agent/catalogue';

test('docs/configuration.md and the README list every setting of the catalogue (regenerate: node dist/src/config/settings-doc.js)', () => {
  for (const relative of GENERATED_DOCS) {
    const doc = readFileSync(settingsDocPath(relative), 'utf8');
    assert.equal(doc, updateSettingsDoc(doc), `${relative} is stale: run \`npm run build && node dist/src/config/settings-doc.js\``);
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
