import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { EVENT_TYPES } from '../../../src/agent/event-registry';
import { settingsCatalogue } from '../../../src/agent/catalogue';
import { packagePath } from '../../../src/core/package-path';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { ALL_SOURCES } from '../../../src/sources/index';
import { referenceSchemaDir } from '../../harness/paths';
import { tsFilesUnder } from '../../harness/ts-files';

const officialDir = path.join(referenceSchemaDir(), 'security_message', 'schemas');
const ownDir = packagePath('schemas/events');

test('every declared event type has its schema: official ones in Microsoft\'s set, own ones in schemas/events', () => {
  const official = readdirSync(officialDir).map((f) => readFileSync(path.join(officialDir, f), 'utf8'));
  const ownFiles = new Set(readdirSync(ownDir));
  const missing: string[] = [];
  for (const t of EVENT_TYPES) {
    if (t.schema === 'official') {
      if (!official.some((text) => text.includes(`"${t.name}"`))) missing.push(`${t.name}: no official schema names it`);
    } else if (!ownFiles.has(`${t.name}.json`)) missing.push(`${t.name}: schemas/events/${t.name}.json missing`);
    else {
      const schema = JSON.parse(readFileSync(path.join(ownDir, `${t.name}.json`), 'utf8')) as { $id?: string };
      if (schema.$id !== `${t.name}.json`) missing.push(`${t.name}: $id is ${String(schema.$id)}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('every own schema belongs to a declared event type, and the validator knows each declared type', () => {
  const declared = new Set(EVENT_TYPES.map((t) => t.name));
  const orphans = readdirSync(ownDir).filter((f) => f.endsWith('.json') && !declared.has(f.replace(/\.json$/, '')));
  assert.deepEqual(orphans, [], 'schemas/events holds no schema of an undeclared type');
  const validator = createSchemaValidator(referenceSchemaDir());
  for (const t of EVENT_TYPES.filter((e) => e.category === 'Periodic')) {
    // An empty snapshot is valid for every Periodic type the validator knows; an unknown Name matches no per-type schema.
    const probe = { Id: '4fc0b5a1-3b0e-4ad6-9d8c-7a1d1c5e2f10', TimestampLocal: '2026-11-23T10:00:00.000+01:00', TimestampUTC: '2026-11-23T09:00:00.000Z', Category: 'Periodic', Name: t.name, EventType: t.kind, IsEmpty: true, PayloadSchemaVersion: t.payloadVersion, Payload: [] };
    const result = validator.validateEvent(probe);
    assert.ok(result.valid, `${t.name}: ${result.errors.slice(0, 3).join('; ')}`);
  }
  const unknown = validator.validateEvent({ Id: '4fc0b5a1-3b0e-4ad6-9d8c-7a1d1c5e2f10', TimestampLocal: '2026-11-23T10:00:00.000+01:00', TimestampUTC: '2026-11-23T09:00:00.000Z', Category: 'Periodic', Name: 'NoSuchType', EventType: 'Security', IsEmpty: true, PayloadSchemaVersion: '1.0', Payload: [] });
  assert.equal(unknown.valid, false, 'an undeclared type does not validate');
});

test('every event the code creates is declared: createEvent names in src/ are in the registry', () => {
  const declared = new Set(EVENT_TYPES.map((t) => t.name));
  const created = new Set<string>();
  const constants = new Map<string, string>();
  const texts = tsFilesUnder(packagePath('src')).map((f) => readFileSync(f, 'utf8'));
  for (const text of texts) for (const m of text.matchAll(/\bconst\s+([A-Z_]+)\s*=\s*'([A-Za-z]+)'/g)) constants.set(m[1]!, m[2]!);
  for (const text of texts) {
    for (const m of text.matchAll(/\bcreateEvent\(\s*(?:'([A-Za-z]+)'|([A-Z_]+)\b)/g)) {
      const name = m[1] ?? constants.get(m[2]!);
      if (name !== undefined) created.add(name);
    }
  }
  assert.ok(created.size >= 15, `the scan finds the event names (${[...created].join(', ')})`);
  assert.deepEqual([...created].filter((n) => !declared.has(n)), [], 'created but not declared');
});

test('each source declares what it emits, and the registry derives one priority setting per type', () => {
  const names = new Set(settingsCatalogue().map((s) => s.name));
  for (const t of EVENT_TYPES) assert.ok(names.has(`eventPriority${t.name}`), `eventPriority${t.name}`);
  for (const t of EVENT_TYPES.filter((e) => e.aggregation)) assert.ok(names.has(`aggregationEnabled${t.name}`) && names.has(`aggregationInterval${t.name}`), t.name);
  for (const s of ALL_SOURCES) assert.ok(s.events.length > 0, `${s.name} declares its event types`);
  assert.equal(new Set(EVENT_TYPES.map((t) => t.name)).size, EVENT_TYPES.length, 'no type declared twice');
});
