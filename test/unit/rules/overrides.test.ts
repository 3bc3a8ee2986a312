import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyseDeployment, parseRuleOverridesText, RuleConfigError } from '../../../src/rules/index';
import { cleanDeployment, hostConfig, type Doc } from './fixtures';

function withRisk(): Doc {
  const d = cleanDeployment();
  hostConfig(d, 'sensor').Privileged = true;
  hostConfig(d, 'sensor').SecurityOpt = [];
  hostConfig(d, 'edgeHub').SecurityOpt = [];
  return d;
}

describe('rule overrides (suppressions)', () => {
  test('switch a rule off everywhere (YAML)', () => {
    const overrides = parseRuleOverridesText('rules:\n  C19: { enabled: false }\n');
    const ids = analyseDeployment(withRisk(), { overrides }).map((f) => f.ruleId);
    assert.ok(!ids.includes('C19'));
    assert.ok(ids.includes('C01'));
  });

  test('re-grade a rule for one module only (JSON), module-specific wins over general', () => {
    const overrides = parseRuleOverridesText(JSON.stringify({ rules: { C19: [{ severity: 'High', modules: ['sens*'] }, { severity: 'Info' }], c01: { enabled: false, modules: ['sensor'] } } }));
    const findings = analyseDeployment(withRisk(), { overrides });
    assert.equal(findings.find((f) => f.ruleId === 'C19' && f.module === 'sensor')?.severity, 'High');
    assert.equal(findings.find((f) => f.ruleId === 'C19' && f.module === 'edgeHub')?.severity, 'Info');
    assert.ok(!findings.some((f) => f.ruleId === 'C01'));
  });

  test('empty text means no overrides', () => {
    assert.equal(parseRuleOverridesText('  ').size, 0);
  });

  test('bad settings are clear errors', () => {
    assert.throws(() => parseRuleOverridesText('rules: { Z99: { enabled: false } }'), (e: Error) => e instanceof RuleConfigError && /unknown rule ID/.test(e.message));
    assert.throws(() => parseRuleOverridesText('rules: { C01: { severity: Severe } }'), /expected one of Critical/);
    assert.throws(() => parseRuleOverridesText('rules: { C01: { enable: false } }'), /unknown key "enable"/);
    assert.throws(() => parseRuleOverridesText('rules: [C01'), /not valid YAML or JSON at line 1/);
    assert.throws(() => parseRuleOverridesText('C01: {enabled: false}'), /expected "rules"/);
  });
});
