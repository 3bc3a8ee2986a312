import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigStore } from '../../../src/config/config-store';
import { LocalConfigError, LocalConfigFile, parseLocalConfig, resolveConfigPath } from '../../../src/config/local-config-file';
import { CONFIG_KEY } from '../../../src/config/settings';
import { ALL_SOURCES } from '../../../src/sources/index';
import { settingsCatalogue } from '../../../src/agent/catalogue';
import { waitUntil } from '../../harness/wait-until';

const catalogue = settingsCatalogue(ALL_SOURCES);

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-localcfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('YAML with plain and wrapped values gives wrapped settings the store accepts', () => {
  const settings = parseLocalConfig('# comment\nhighPriorityMessageFrequency: PT1S\nlowPriorityMessageFrequency: {value: PT2S}\nmaxMessageSizeInBytes: 8192\nmanifestSources:\n  - /m/a.json\n  - /m/b.json\naggregationEnabledProcessCreate: false\n');
  assert.deepEqual(settings, {
    highPriorityMessageFrequency: { value: 'PT1S' },
    lowPriorityMessageFrequency: { value: 'PT2S' },
    maxMessageSizeInBytes: { value: 8192 },
    manifestSources: { value: ['/m/a.json', '/m/b.json'] },
    aggregationEnabledProcessCreate: { value: false },
  });
  const update = new ConfigStore(catalogue, { standalone: true }).applySection(settings);
  assert.deepEqual(update.problems, []);
  assert.equal(update.view.durationMs('lowPriorityMessageFrequency'), 2000);
  assert.equal(update.view.boolean('aggregationEnabledProcessCreate'), false);
});

test('JSON, and a twin-shaped file (settings under the twin key), are read the same way', () => {
  const json = parseLocalConfig('{"snapshotFrequency": {"value": "PT1M"}, "eventPriorityLogin": "Low"}');
  assert.deepEqual(json, { snapshotFrequency: { value: 'PT1M' }, eventPriorityLogin: { value: 'Low' } });
  const twin = parseLocalConfig(JSON.stringify({ [CONFIG_KEY]: { snapshotFrequency: { value: 'PT1M' } } }));
  assert.deepEqual(twin, { snapshotFrequency: { value: 'PT1M' } });
  assert.deepEqual(parseLocalConfig(''), {});
  assert.deepEqual(parseLocalConfig('# only a comment\n'), {});
});

test('a broken file gives a clear error with the position and without quoting the text', () => {
  assert.throws(
    () => parseLocalConfig('snapshotFrequency: PT1M\ndockerHost: [tcp://user:hunter2@x\n', 'edgeguard.yaml'),
    (error: unknown) => {
      assert.ok(error instanceof LocalConfigError);
      assert.match(error.message, /^edgeguard\.yaml: not valid YAML or JSON at line \d+, column \d+/);
      assert.ok(!error.message.includes('hunter2'));
      return true;
    },
  );
  assert.throws(() => parseLocalConfig('- a\n- b\n'), /expected a mapping/);
  assert.throws(() => parseLocalConfig('"just text"'), /expected a mapping/);
});

test('path: --config, then EDGEGUARD_CONFIG, then ./edgeguard.yaml when present', (t) => {
  const dir = tempDir(t);
  assert.equal(resolveConfigPath(['run', '--config', 'x.yaml'], { EDGEGUARD_CONFIG: 'y.yaml' }, dir), path.join(dir, 'x.yaml'));
  assert.equal(resolveConfigPath(['--config=z.json'], {}, dir), path.join(dir, 'z.json'));
  assert.equal(resolveConfigPath([], { EDGEGUARD_CONFIG: 'y.yaml' }, dir), path.join(dir, 'y.yaml'));
  assert.equal(resolveConfigPath([], {}, dir), undefined);
  writeFileSync(path.join(dir, 'edgeguard.yaml'), 'snapshotFrequency: PT1M\n');
  assert.equal(resolveConfigPath([], {}, dir), path.join(dir, 'edgeguard.yaml'));
});

test('the file is re-read on change; a broken edit keeps the previous settings and is logged once', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'edgeguard.yaml');
  writeFileSync(file, 'snapshotFrequency: PT1M\n');
  const errors: string[] = [];
  const log = { error: (m: string) => errors.push(m), warn() {}, info() {}, debug() {}, child() { return log; } };
  const config = new LocalConfigFile(file, { log, pollIntervalMs: 20 });
  assert.equal(config.reload(), true);
  assert.deepEqual(config.current(), { snapshotFrequency: { value: 'PT1M' } });
  const seen: unknown[] = [];
  config.watch((s) => seen.push(s));
  t.after(() => config.stop());

  const bump = (text: string, secondsAhead: number) => {
    writeFileSync(file, text);
    const when = new Date(Date.now() + secondsAhead * 1000);
    utimesSync(file, when, when);
  };
  bump('snapshotFrequency: PT2M\n', 1);
  await waitUntil(() => seen.length === 1);
  assert.deepEqual(seen[0], { snapshotFrequency: { value: 'PT2M' } });

  bump('snapshotFrequency: [PT3M\n', 2);
  await waitUntil(() => errors.length === 1);
  assert.match(errors[0]!, /not valid YAML or JSON at line \d+, column \d+/);
  assert.match(errors[0]!, /keeping the previous configuration/);
  assert.deepEqual(config.current(), { snapshotFrequency: { value: 'PT2M' } });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(errors.length, 1, 'logged once');
  assert.equal(seen.length, 1, 'no listener call for a broken file');

  bump('snapshotFrequency: PT3M\n', 3);
  await waitUntil(() => seen.length === 2);
  assert.deepEqual(config.current(), { snapshotFrequency: { value: 'PT3M' } });
  assert.equal(config.problem(), undefined);

  rmSync(file);
  await waitUntil(() => errors.length === 2);
  assert.match(errors[1]!, /cannot be read \(ENOENT\)/);
  assert.deepEqual(config.current(), { snapshotFrequency: { value: 'PT3M' } });
});
