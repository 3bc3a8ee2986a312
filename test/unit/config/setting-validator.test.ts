import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { settingsCatalogue } from '../../../src/agent/catalogue';
import { SettingValidator } from '../../../src/config/setting-schema';
import type { SettingDefinition } from '../../../src/config/settings';

describe('SettingValidator (validators compiled on first check)', () => {
  test("every setting of the agent's catalogue compiles under ajv's strict mode", () => {
    const catalogue = settingsCatalogue();
    assert.ok(catalogue.length > 20);
    new SettingValidator(catalogue).compileAll();
  });

  test('a setting checks the same on its first and later checks', () => {
    const def = settingsCatalogue().find((d) => d.type === 'boolean')!;
    const validator = new SettingValidator([def]);
    assert.ok(validator.check(def, 'yes'));
    assert.equal(validator.check(def, true), undefined);
    assert.equal(validator.check({ ...def, name: 'noSuchSetting' }, true), 'unknown setting');
  });

  test('a schema the meta-schema refuses fails at compileAll (compiling alone does not check it)', () => {
    const bad = { name: 'badInteger', type: 'integer', minimum: 'one', maximum: 10, default: 5 } as unknown as SettingDefinition;
    assert.throws(() => new SettingValidator([bad]).compileAll(), /setting badInteger: invalid schema: .*minimum must be number/);
  });

  test('a schema ajv refuses fails at compileAll, not silently', () => {
    const bad = { name: 'badEnum', type: 'enum', values: [], default: 'x' } as unknown as SettingDefinition;
    assert.throws(() => new SettingValidator([bad]).compileAll(), /enum/);
  });
});
