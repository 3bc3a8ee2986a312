import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configurationErrorEvent, ConfigStore } from '../../../src/config/config-store';
import { settingsCatalogue } from '../../../src/agent/catalogue';
import { CONFIG_KEY, type SettingDefinition } from '../../../src/config/settings';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { referenceSchemaDir } from '../../harness/paths';
import { seededRandom } from '../../../src/core/seeded-random';

// Issue 11, beyond the list: random and hostile desired documents never crash the store, never change a
// setting whose value failed validation, and every rejected value gives a ConfigurationError.

const catalogue = settingsCatalogue();
const byName = new Map(catalogue.map((d) => [d.name, d]));
const schemas = createSchemaValidator(referenceSchemaDir());

function deep(depth: number, leaf: unknown): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { value: v };
  return v;
}

const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', '$version', '', ' ', 'a.b', 'x'.repeat(5000), '\u0000', '\u202e'];

function hostileValue(r: () => number, def: SettingDefinition | undefined): unknown {
  const pick = Math.floor(r() * 22);
  switch (pick) {
    case 0: return 'x'.repeat(Math.floor(r() * 200_000));
    case 1: return Array.from({ length: Math.floor(r() * 20_000) }, (_, i) => `item${i}`);
    case 2: return deep(Math.floor(r() * 3000), 'PT1S');
    case 3: return -1;
    case 4: return 1e308;
    case 5: return 0;
    case 6: return r() * 1000;
    case 7: return true;
    case 8: return null;
    case 9: return { value: null };
    case 10: return [];
    case 11: return {};
    case 12: return JSON.parse('{"__proto__": {"polluted": "yes"}, "value": "PT1S"}');
    case 13: return { value: JSON.parse('{"__proto__": {"polluted": "yes"}}') };
    case 14: return { value: 'P1000Y' };
    case 15: return { value: '-PT5S' };
    case 16: return { value: 'x'.repeat(100_000) };
    case 17: return { value: Array.from({ length: 5000 }, () => ({})) };
    case 18: return { value: deep(2000, 1) };
    case 19: return { value: def?.default ?? 'Low' }; // a valid value now and then
    case 20: return { value: def?.type === 'integer' ? String(def.default) : 12 };
    default: return { value: '\u001b[31m' + 'redacted?'.repeat(10) + '\u0000' };
  }
}

function hostileDocument(r: () => number): Record<string, unknown> {
  const section: Record<string, unknown> = {};
  const n = 1 + Math.floor(r() * 12);
  for (let i = 0; i < n; i++) {
    const roll = r();
    let name: string;
    if (roll < 0.55) name = catalogue[Math.floor(r() * catalogue.length)]!.name;
    else if (roll < 0.7) {
      const base = catalogue[Math.floor(r() * catalogue.length)]!.name;
      name = r() < 0.5 ? base.toUpperCase() : base[0]!.toUpperCase() + base.slice(1); // case variants are other keys
    } else if (roll < 0.85) name = HOSTILE_KEYS[Math.floor(r() * HOSTILE_KEYS.length)]!;
    else name = `unknown${Math.floor(r() * 1e6)}`;
    Object.defineProperty(section, name, { value: hostileValue(r, byName.get(name)), enumerable: true, configurable: true, writable: true });
  }
  const top = r();
  if (top < 0.05) return { [CONFIG_KEY]: 'not an object' };
  if (top < 0.08) return { [CONFIG_KEY]: [section] };
  if (top < 0.1) return { [CONFIG_KEY]: deep(5000, section) };
  return { [CONFIG_KEY]: section, $version: Math.floor(r() * 100) };
}

test('twin fuzz: 1,500 hostile desired documents; no crash, no invalid value applied, every rejection reported', { timeout: 120_000 }, () => {
  const seed = Number(process.env.EDGEGUARD_FUZZ_SEED ?? 11);
  const r = seededRandom(seed);
  const store = new ConfigStore(catalogue);
  let rejections = 0;
  for (let i = 0; i < 1500; i++) {
    const doc = hostileDocument(r);
    const before = new Map([...store.current().entries()]);
    const started = performance.now();
    let update;
    try {
      update = store.applyDesired(doc);
    } catch (error) {
      assert.fail(`seed ${seed} doc ${i}: applyDesired threw ${String(error)}`);
    }
    assert.ok(performance.now() - started < 2000, `seed ${seed} doc ${i}: took ${Math.round(performance.now() - started)} ms`);
    const section = doc[CONFIG_KEY];
    const given = section && typeof section === 'object' && !Array.isArray(section) ? (section as Record<string, unknown>) : undefined;
    const mismatched = new Set(update.problems.filter((p) => p.errorType === 'TypeMismatch').map((p) => p.setting));
    for (const def of catalogue) {
      const now = update.view.raw(def.name);
      if (mismatched.has(def.name)) {
        assert.deepEqual(now, before.get(def.name), `seed ${seed} doc ${i}: ${def.name} changed although rejected`);
        continue;
      }
      const entry = given && Object.prototype.hasOwnProperty.call(given, def.name) ? given[def.name] : undefined;
      if (entry === undefined || entry === null) continue;
      // Accepted: the entry was wrapped and its value has the setting's JSON type.
      assert.ok(typeof entry === 'object' && !Array.isArray(entry) && 'value' in (entry as object), `seed ${seed} doc ${i}: ${def.name} accepted an unwrapped ${typeof entry}`);
      const value = (entry as { value: unknown }).value;
      const typeOk =
        def.type === 'integer' ? Number.isInteger(value) : def.type === 'boolean' ? typeof value === 'boolean' : def.type === 'stringList' ? Array.isArray(value) || typeof value === 'string' : typeof value === 'string';
      assert.ok(typeOk, `seed ${seed} doc ${i}: ${def.name} accepted ${JSON.stringify(value)?.slice(0, 60)}`);
    }
    if (update.newProblems.length > 0) {
      rejections++;
      const event = configurationErrorEvent(update.newProblems);
      assert.deepEqual(schemas.validateEvent(event).errors, [], `seed ${seed} doc ${i}: ConfigurationError fails the schema`);
      const size = Buffer.byteLength(JSON.stringify(event));
      assert.ok(size < 64 * 1024 + 2048 * update.newProblems.length, `seed ${seed} doc ${i}: ConfigurationError of ${size} bytes`);
      for (const p of update.newProblems) assert.ok(p.message.length <= 2048, `seed ${seed} doc ${i}: message of ${p.message.length} chars for ${p.setting}`);
    }
    // Case variants and hostile keys are never settings.
    for (const name of Object.keys(given ?? {})) if (!byName.has(name)) assert.ok(!update.changedSettings.includes(name));
    assert.equal(({} as Record<string, unknown>).polluted, undefined, `seed ${seed} doc ${i}: Object.prototype polluted`);
  }
  assert.ok(rejections > 500, `hostile documents were rejected (${rejections})`);
});
