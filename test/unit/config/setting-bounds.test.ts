import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigStore } from '../../../src/config/config-store';
import { durationBounds } from '../../../src/config/setting-schema';
import { settingsCatalogue } from '../../../src/agent/catalogue';
import { CONFIG_KEY } from '../../../src/config/settings';
import { MAX_TIMER_DELAY_MS, parseDuration } from '../../../src/core/duration';

const catalogue = settingsCatalogue();
const durations = catalogue.filter((d) => d.type === 'duration');
const integers = catalogue.filter((d) => d.type === 'integer');

function apply(store: ConfigStore, name: string, value: unknown) {
  return store.applyDesired({ [CONFIG_KEY]: { [name]: { value } } });
}

test('every duration setting is bounded below what a timer can wait, and its defaults are inside its bounds', () => {
  assert.ok(durations.length >= 10, 'the catalogue has its duration settings');
  for (const def of durations) {
    const { minMs, maxMs } = durationBounds(def);
    assert.ok(minMs > 0 && maxMs <= MAX_TIMER_DELAY_MS, `${def.name}: ${minMs} … ${maxMs}`);
    for (const d of [def.default, def.standaloneDefault].filter((v) => v !== undefined)) {
      const ms = parseDuration(String(d))!;
      assert.ok(ms >= minMs && ms <= maxMs, `${def.name}: default ${String(d)} outside its bounds`);
    }
  }
});

test('every integer setting declares a minimum and a maximum, and its default is inside them', () => {
  for (const def of integers) {
    assert.ok(def.minimum !== undefined && def.maximum !== undefined, `${def.name} is unbounded`);
    assert.ok(Number(def.default) >= def.minimum! && Number(def.default) <= def.maximum!, def.name);
  }
  assert.equal(catalogue.find((d) => d.name === 'maxLocalCacheSizeInBytes')!.maximum, 67_108_864);
});

const BAD_DURATIONS: unknown[] = ['PT0S', 'P0D', '-PT1S', 'PT-1S', 'P30D', 'P1000Y', 'P99999999999999999999999Y', 'NaN', 'Infinity', 'P', 'PT', '', 5000, null, true, ['PT1S'], { value: 'PT1S' }, 'PT1S '.repeat(1000)];

test('each duration setting refuses zero, negative, too long (P30D: 1 ms timers), malformed and wrong-typed values with a TypeMismatch and keeps its value', () => {
  for (const def of durations) {
    const { minMs, maxMs } = durationBounds(def);
    const tooShort = `PT${(minMs / 2 / 1000).toString()}S`;
    const tooLong = `PT${Math.floor(maxMs / 1000) + 1}S`;
    for (const bad of [...BAD_DURATIONS, tooShort, tooLong]) {
      const store = new ConfigStore(catalogue);
      const before = store.current().raw(def.name);
      const update = apply(store, def.name, bad);
      if (bad === null) continue; // null means "back to the default"
      const problem = update.problems.find((p) => p.setting === def.name);
      assert.equal(problem?.errorType, 'TypeMismatch', `${def.name} accepted ${JSON.stringify(bad)?.slice(0, 40)}`);
      assert.deepEqual(update.view.raw(def.name), before, `${def.name} changed on ${JSON.stringify(bad)?.slice(0, 40)}`);
    }
    const store = new ConfigStore(catalogue);
    const lowest = apply(store, def.name, durationBounds(def).min);
    assert.equal(lowest.problems.find((p) => p.setting === def.name && p.errorType === 'TypeMismatch'), undefined, `${def.name}: its minimum is accepted`);
    const highest = apply(store, def.name, durationBounds(def).max);
    assert.equal(highest.problems.find((p) => p.setting === def.name && p.errorType === 'TypeMismatch'), undefined, `${def.name}: its maximum is accepted`);
    assert.equal(highest.view.durationMs(def.name), durationBounds(def).maxMs);
  }
});

test('each integer setting refuses 0/negative/huge/NaN/Infinity/fractions/strings with a TypeMismatch and keeps its value', () => {
  for (const def of integers) {
    const bads: unknown[] = [-1, def.minimum! - 1, def.maximum! + 1, 1e300, Number.MAX_SAFE_INTEGER + 2, NaN, Infinity, -Infinity, 1.5, String(def.default), '', [], {}, true];
    if (def.minimum! > 0) bads.push(0);
    for (const bad of bads) {
      const store = new ConfigStore(catalogue);
      const update = apply(store, def.name, bad);
      assert.equal(update.problems.find((p) => p.setting === def.name)?.errorType, 'TypeMismatch', `${def.name} accepted ${String(bad)}`);
      assert.deepEqual(update.view.raw(def.name), def.default);
    }
  }
});
