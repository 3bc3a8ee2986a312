import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { configurationErrorEvent, ConfigStore } from '../../../src/config/config-store';
import { CONFIG_KEY, type SettingDefinition } from '../../../src/config/settings';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { ALL_SOURCES } from '../../../src/sources/index';
import { referenceSchemaDir } from '../../harness/paths';
import { settingsCatalogue } from '../../../src/agent/catalogue';

const catalogue = settingsCatalogue(ALL_SOURCES);
const validator = createSchemaValidator(referenceSchemaDir());

function desired(settings: Record<string, unknown>): Record<string, unknown> {
  return { [CONFIG_KEY]: settings, $version: 3 };
}

test('no desired properties: every setting at its default; standalone uses the short defaults', () => {
  const store = new ConfigStore(catalogue);
  const update = store.applyDesired({});
  assert.equal(update.view.string('highPriorityMessageFrequency'), 'PT7M');
  assert.equal(update.problems.length, 0);
  const standalone = new ConfigStore(catalogue, { standalone: true });
  assert.equal(standalone.current().string('highPriorityMessageFrequency'), 'PT5S');
  assert.equal(standalone.current().string('maxMessageSizeInBytes'), '204800');
});

test('valid wrapped values apply, including durations as short as PT1S and sub-second ones', () => {
  const store = new ConfigStore(catalogue);
  const update = store.applyDesired(desired({ highPriorityMessageFrequency: { value: 'PT1S' }, lowPriorityMessageFrequency: { value: 'PT1.5S' }, eventPriorityLogin: { value: 'Off' }, maxMessageSizeInBytes: { value: 8192 } }));
  assert.deepEqual(update.problems, []);
  assert.equal(update.view.durationMs('highPriorityMessageFrequency'), 1000);
  assert.equal(update.view.durationMs('lowPriorityMessageFrequency'), 1500);
  assert.equal(update.view.priority('Login'), 'Off');
  assert.deepEqual(update.changedSettings.sort(), ['eventPriorityLogin', 'highPriorityMessageFrequency', 'lowPriorityMessageFrequency', 'maxMessageSizeInBytes']);
});

test('invalid value: the last good value is kept, a TypeMismatch is reported once and logged once', () => {
  const warnings: string[] = [];
  const log = { warn: (m: string, d?: Record<string, unknown>) => warnings.push(`${m} ${JSON.stringify(d)}`), error() {}, info() {}, debug() {}, child() { return log; } };
  const store = new ConfigStore(catalogue, { log });
  store.applyDesired(desired({ snapshotFrequency: { value: 'PT2M' } }));
  const bad = store.applyDesired(desired({ snapshotFrequency: { value: 'every minute' }, maxMessageSizeInBytes: { value: '4096' } }));
  assert.equal(bad.view.string('snapshotFrequency'), 'PT2M', 'last good value kept');
  assert.equal(bad.view.integer('maxMessageSizeInBytes'), 204800, 'default kept');
  assert.deepEqual(bad.problems.map((p) => [p.setting, p.errorType]).sort(), [['maxMessageSizeInBytes', 'TypeMismatch'], ['snapshotFrequency', 'TypeMismatch']]);
  assert.equal(bad.newProblems.length, 2);
  assert.equal(bad.problems.find((p) => p.setting === 'snapshotFrequency')!.usedConfiguration, 'PT2M');
  assert.equal(warnings.length, 2);
  // The same bad twin again (e.g. after a reconnect): no new problem, no new log line.
  const again = store.applyDesired(desired({ snapshotFrequency: { value: 'every minute' }, maxMessageSizeInBytes: { value: '4096' } }));
  assert.equal(again.newProblems.length, 0);
  assert.equal(again.problems.length, 2);
  assert.equal(warnings.length, 2);
  // A different bad value is a new occurrence.
  const other = store.applyDesired(desired({ snapshotFrequency: { value: 'PT0S' }, maxMessageSizeInBytes: { value: '4096' } }));
  assert.deepEqual(other.newProblems.map((p) => p.setting), ['snapshotFrequency']);
  assert.equal(other.view.string('snapshotFrequency'), 'PT2M');
  // Fixed: the problem is gone and the new value applies.
  const fixed = store.applyDesired(desired({ snapshotFrequency: { value: 'PT1M' } }));
  assert.deepEqual(fixed.problems, []);
  assert.equal(fixed.view.string('snapshotFrequency'), 'PT1M');
});

test('each kind of bad value is caught: type, range, enum, unwrapped, wrong section', () => {
  const cases: Array<[string, unknown]> = [
    ['maxMessageSizeInBytes', { value: 300_000 }],
    ['maxMessageSizeInBytes', { value: 100 }],
    ['maxMessageSizeInBytes', { value: 8192.5 }],
    ['maxLocalCacheSizeInBytes', { value: 1024 }],
    ['eventPriorityProcessCreate', { value: 'Medium' }],
    ['aggregationEnabledProcessCreate', { value: 'true' }],
    ['aggregationIntervalProcessCreate', { value: 3600 }],
    ['highPriorityMessageFrequency', { value: 'P' }],
    ['highPriorityMessageFrequency', 'PT1M'],
    ['logLevel', { value: 'verbose' }],
    ['manifestSources', { value: [1, 2] }],
  ];
  for (const [name, entry] of cases) {
    const store = new ConfigStore(catalogue);
    const before = store.current().raw(name);
    const update = store.applyDesired(desired({ [name]: entry }));
    assert.deepEqual(update.problems.map((p) => [p.setting, p.errorType]), [[name, 'TypeMismatch']], `${name} ${JSON.stringify(entry)}`);
    assert.deepEqual(update.view.raw(name), before);
  }
  const store = new ConfigStore(catalogue);
  const broken = store.applySection('not an object');
  assert.deepEqual(broken.problems.map((p) => [p.setting, p.errorType]), [[CONFIG_KEY, 'TypeMismatch']]);
});

test('a list setting also takes a comma-separated string (twins handle arrays poorly)', () => {
  const store = new ConfigStore(catalogue);
  const update = store.applyDesired(desired({ manifestSources: { value: '/manifests/a.json, /manifests/*.json' } }));
  assert.deepEqual(update.problems, []);
  assert.deepEqual(update.view.stringList('manifestSources'), ['/manifests/a.json', '/manifests/*.json']);
});

test('a removed setting (null in a patch, or absent) goes back to its default', () => {
  const store = new ConfigStore(catalogue);
  store.applyDesired(desired({ eventPriorityLogin: { value: 'Low' } }));
  const update = store.applyDesired(desired({ eventPriorityLogin: null }));
  assert.equal(update.view.priority('Login'), 'High');
  assert.deepEqual(update.changedSettings, ['eventPriorityLogin']);
});

test('NotOptimal: message size not a multiple of 4096; Conflict: cache below message size, high slower than low', () => {
  const store = new ConfigStore(catalogue);
  const update = store.applyDesired(
    desired({
      maxMessageSizeInBytes: { value: 10_000 },
      maxLocalCacheSizeInBytes: { value: 9000 },
      highPriorityMessageFrequency: { value: 'PT2H' },
      lowPriorityMessageFrequency: { value: 'PT1H' },
    }),
  );
  assert.deepEqual(update.problems.map((p) => [p.setting, p.errorType]).sort(), [
    ['highPriorityMessageFrequency', 'Conflict'],
    ['maxLocalCacheSizeInBytes', 'Conflict'],
    ['maxMessageSizeInBytes', 'NotOptimal'],
  ]);
  // The values are valid on their own: they are used as given.
  assert.equal(update.view.integer('maxMessageSizeInBytes'), 10_000);
  assert.equal(update.view.string('highPriorityMessageFrequency'), 'PT2H');
  const clean = store.applyDesired(desired({ maxMessageSizeInBytes: { value: 8192 } }));
  assert.deepEqual(clean.problems, []);
});

test('unknown settings are reported, not fatal; $-keys are ignored', () => {
  const store = new ConfigStore(catalogue);
  const update = store.applyDesired(desired({ noSuchSetting: { value: 1 }, $metadata: {}, snapshotFrequency: { value: 'PT1M' } }));
  assert.deepEqual(update.unknownSettings, ['noSuchSetting']);
  assert.equal(update.view.string('snapshotFrequency'), 'PT1M');
  assert.deepEqual(update.problems, []);
});

test('errors about string settings never quote the value (it may be a secret)', () => {
  const secret = 'tcp://admin:S3cr3tP4ss@10.0.0.1:2376';
  const store = new ConfigStore(catalogue);
  const update = store.applyDesired(desired({ dockerHost: { value: 12 }, manifestRuleOverrides: { value: { text: secret } }, manifestSources: secret }));
  assert.equal(update.problems.length, 3);
  const text = JSON.stringify(update.problems) + JSON.stringify(configurationErrorEvent(update.problems));
  assert.ok(!text.includes('S3cr3t'), text);
  assert.ok(!text.includes('10.0.0.1'), text);
  for (const p of update.problems) assert.match(p.message, new RegExp(`^${p.setting}:`));
});

test('ConfigurationError events validate against the official schema', () => {
  const store = new ConfigStore(catalogue);
  const update = store.applyDesired(desired({ snapshotFrequency: { value: 'soon' }, maxMessageSizeInBytes: { value: 10_000 }, maxLocalCacheSizeInBytes: { value: 9000 } }));
  const event = configurationErrorEvent(update.newProblems);
  assert.equal(event.EventType, 'Operational');
  assert.equal(event.Category, 'Triggered');
  assert.equal(event.Payload.length, 3);
  const result = validator.validateEvent(event);
  assert.ok(result.valid, result.errors.join('\n'));
  const strict = validator.validateMessageStrictOfficial({ AgentVersion: '1', AgentId: '00000000-0000-4000-8000-000000000000', MessageSchemaVersion: '1.0', Events: [event] });
  assert.ok(strict.valid, strict.errors.join('\n'));
});

test('reported configuration: every setting, wrapped as {value}', () => {
  const store = new ConfigStore(catalogue);
  store.applyDesired(desired({ snapshotFrequency: { value: 'PT1M' } }));
  const reported = store.reportedConfiguration();
  assert.deepEqual(Object.keys(reported), catalogue.map((d) => d.name));
  assert.deepEqual(reported.snapshotFrequency, { value: 'PT1M' });
  assert.deepEqual(reported.highPriorityMessageFrequency, { value: 'PT7M' });
  // What we report is itself a valid desired document: applying it yields no problem.
  const again = new ConfigStore(catalogue).applySection(reported);
  assert.deepEqual(again.problems, []);
});

// --- Official twin schema (Microsoft's security_module_twin) ---

interface TwinProperty {
  $ref: string;
  default: unknown;
}

function officialTwin(): { properties: Record<string, TwinProperty>; definitions: Record<string, { properties: { value: Record<string, unknown> } }>; defaults: Record<string, { value: unknown }> } {
  const dir = path.join(referenceSchemaDir(), 'security_module_twin');
  const schema = JSON.parse(readFileSync(path.join(dir, 'azureiotsecurity_schema.json'), 'utf8'));
  const defs = JSON.parse(readFileSync(path.join(dir, 'azureiotsecurity_schema_definitions.json'), 'utf8'));
  const def = JSON.parse(readFileSync(path.join(dir, 'azureiotsecurity_default.json'), 'utf8'));
  return {
    properties: schema.properties.desired.properties[CONFIG_KEY].properties,
    definitions: defs.definitions,
    defaults: def.properties.desired[CONFIG_KEY],
  };
}

const TYPE_OF_DEFINITION: Record<string, SettingDefinition['type']> = {
  TimeConfiguration: 'duration',
  IntegerConfiguration: 'integer',
  BooleanConfiguration: 'boolean',
  EventPriorityConfiguration: 'priority',
};

test('the Defender settings match the official twin schema: names, types, defaults', () => {
  const official = officialTwin();
  const byName = new Map(catalogue.map((d) => [d.name, d]));
  const names = Object.keys(official.properties);
  assert.ok(names.length >= 25, `official schema has ${names.length} settings`);
  for (const name of names) {
    const ours = byName.get(name);
    assert.ok(ours, `official setting ${name} is in the catalogue`);
    const defName = official.properties[name]!.$ref.split('/').pop()!;
    assert.equal(ours.type, TYPE_OF_DEFINITION[defName], `${name} type`);
    assert.deepEqual(ours.default, official.properties[name]!.default, `${name} default (schema)`);
    assert.deepEqual(ours.default, official.defaults[name]?.value, `${name} default (default twin)`);
  }
  assert.deepEqual(Object.keys(official.defaults).sort(), [...names].sort());
  // Documented limits: message size 8192..262144, cache at least 8192.
  assert.equal(byName.get('maxMessageSizeInBytes')!.minimum, 8192);
  assert.equal(byName.get('maxMessageSizeInBytes')!.maximum, 262_144);
  assert.equal(byName.get('maxLocalCacheSizeInBytes')!.minimum, 8192);
});

test('the official default twin is a valid desired document with no problem, and our reported configuration passes the official schema', async () => {
  const official = officialTwin();
  const store = new ConfigStore(catalogue);
  const update = store.applySection(official.defaults);
  assert.deepEqual(update.problems, []);
  assert.deepEqual(update.unknownSettings, []);
  assert.deepEqual(update.changedSettings, []);

  const Ajv = (await import('ajv')).default;
  const ajv = new Ajv({ strict: false });
  const dir = path.join(referenceSchemaDir(), 'security_module_twin');
  ajv.addSchema(JSON.parse(readFileSync(path.join(dir, 'azureiotsecurity_schema_definitions.json'), 'utf8')));
  const validate = ajv.compile(JSON.parse(readFileSync(path.join(dir, 'azureiotsecurity_schema.json'), 'utf8')));
  const doc = { desired: { [CONFIG_KEY]: store.reportedConfiguration() } };
  assert.ok(validate(doc), JSON.stringify(validate.errors));
  // And the official duration pattern accepts what we accept for short standalone values.
  const standalone = new ConfigStore(catalogue, { standalone: true });
  assert.ok(validate({ desired: { [CONFIG_KEY]: standalone.reportedConfiguration() } }), JSON.stringify(validate.errors));
  // The official schema rejects what we reject for a Defender setting.
  assert.ok(!validate({ desired: { [CONFIG_KEY]: { eventPriorityLogin: { value: 'Medium' } } } }));
});
