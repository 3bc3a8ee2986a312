import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { load } from 'js-yaml';
import { createEvent, type PayloadItem, type SecurityEvent } from '../../../src/core/event';
import { Baseline } from '../../../src/detections/baseline';
import { DetectionEngine, NO_TUNING } from '../../../src/detections/engine';
import { compileRules, shippedRuleSources } from '../../../src/detections/loader';
import { repoRoot } from '../../harness/paths';

type Step = Record<string, PayloadItem> & { repeat?: number };
interface Case {
  positive: Step[];
  negative: Step[];
  learn?: Step[];
  lists?: Record<string, string[]>;
  numbers?: Record<string, number>;
}

const PERIODIC = new Set(['ListeningPorts', 'FirewallConfiguration', 'OSBaseline', 'DeploymentManifestAnalysis', 'MessageStatistics', 'KernelModules', 'ContainerInventory', 'LocalUsers', 'SystemInformation']);
const cases = load(readFileSync(path.join(repoRoot(), 'test/fixtures/detections/rule-cases.yaml'), 'utf8')) as Record<string, Case>;
const shipped = compileRules(shippedRuleSources()).rules;

function events(steps: readonly Step[]): SecurityEvent[] {
  return steps.flatMap((step) => {
    const name = Object.keys(step).find((k) => k !== 'repeat')!;
    const item = step[name]!;
    return Array.from({ length: step.repeat ?? 1 }, () =>
      createEvent(name, PERIODIC.has(name) ? 'Periodic' : 'Triggered', [{ ProcessId: 100, ParentProcessId: 1, UserId: '0', ...structuredClone(item) }], {
        eventType: name === 'ConfigurationError' || name === 'MessageStatistics' ? 'Operational' : 'Security',
      }),
    );
  });
}

/** Runs `steps` through a fresh engine; returns the rule IDs of every alert and recommendation item emitted. */
function run(c: Case, steps: readonly Step[]): string[] {
  const extra = Object.entries(c.lists ?? {}).map(([list, items]) => ({ list, items, append: true }));
  const { rules, defs } = compileRules([...shippedRuleSources(), { file: 'case lists', text: JSON.stringify(extra) }]);
  let now = Date.parse('2026-12-01T10:00:00Z');
  const baseline = new Baseline(undefined, c.learn ? 1000 : 365 * 86_400_000, now);
  const nonEmpty = new Set([...defs.lists].filter(([, items]) => items.length > 0).map(([n]) => n));
  const engine = new DetectionEngine(rules, () => now, baseline);
  engine.setRules(rules, nonEmpty);
  engine.setTuning({ ...NO_TUNING, numbers: new Map(Object.entries(c.numbers ?? {})) });
  const ignore = (): void => undefined;
  for (const e of events(c.learn ?? [])) engine.observe(e, ignore);
  if (c.learn) now += 2000;
  const out: SecurityEvent[] = [];
  for (const e of events(steps)) {
    now += 10;
    engine.observe(e, (x) => out.push(x));
  }
  return out.flatMap((e) => e.Payload.map((p) => String(p.RuleId)));
}

test('every shipped rule has a positive and a negative case', () => {
  const missing = shipped.filter((r) => !cases[r.id]?.positive?.length || !cases[r.id]?.negative?.length).map((r) => r.id);
  assert.deepEqual(missing, []);
  const unknown = Object.keys(cases).filter((id) => !shipped.some((r) => r.id === id));
  assert.deepEqual(unknown, [], 'cases for rules that do not exist');
});

for (const rule of shipped) {
  const c = cases[rule.id];
  if (!c) continue;
  test(`${rule.id} ${rule.name}: fires on its positive case`, () => {
    assert.ok(run(c, c.positive).includes(rule.id), `${rule.id} did not fire`);
  });
  test(`${rule.id} ${rule.name}: stays silent on its negative case`, () => {
    assert.ok(!run(c, c.negative).includes(rule.id), `${rule.id} fired on the negative case`);
  });
}
