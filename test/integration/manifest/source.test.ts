import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SecurityEvent } from '../../../src/core/event';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { DeploymentManifests } from '../../../src/sources/manifest/index';
import { SourceHarness } from '../../harness/source-harness';
import { referenceSchemaDir } from '../../harness/paths';
import { cleanDeployment, hostConfig, setEnv } from '../../unit/rules/fixtures';

const SECRET = 'U2VjcmV0LXZhbHVlLW5ldmVyLXRvLWJlLWxvZ2dlZC0xMjM=';
let dir: string;
const savedDockerHost = process.env.DOCKER_HOST;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-manifests-'));
  // This suite is about files; the running deployment part must fail cleanly, so point Docker nowhere.
  process.env.DOCKER_HOST = `unix://${path.join(dir, 'no-docker.sock')}`;
});

after(() => {
  if (savedDockerHost === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = savedDockerHost;
  rmSync(dir, { recursive: true, force: true });
});

function writeDeployment(name: string, change?: (d: ReturnType<typeof cleanDeployment>) => void): void {
  const d = cleanDeployment();
  change?.(d);
  writeFileSync(path.join(dir, name), JSON.stringify(d, null, 2));
}

function ruleIds(event: SecurityEvent): string[] {
  return event.Payload.map((p) => String(p.RuleId));
}

describe('DeploymentManifests source', () => {
  test('files: analysed at snapshot, on change and when they appear; urgent only for new Critical/High; restart does not re-alert', async () => {
    writeDeployment('a.deployment.json', (d) => {
      hostConfig(d, 'sensor').Privileged = true;
      setEnv(d, 'sensor', 'HUB', `HostName=h;DeviceId=d;SharedAccessKey=${SECRET}`);
    });
    const harness = new SourceHarness(DeploymentManifests, {
      manifestSources: [path.join(dir, '*.deployment.json')],
      manifestAnalyseRunningDeployment: true,
      manifestPollInterval: 'PT0.1S',
      manifestRuleOverrides: 'rules:\n  C20: { enabled: false }\n',
    });
    const validator = createSchemaValidator(referenceSchemaDir());
    const ctx = harness.context();
    let source = await DeploymentManifests.start(ctx);
    try {
      await source.snapshot!();
      assert.equal(harness.events.length, 1);
      const first = harness.events[0]!;
      assert.equal(first.event.Name, 'DeploymentManifestAnalysis');
      assert.equal(first.options.urgent, true, 'first Critical findings are urgent');
      assert.ok(ruleIds(first.event).includes('C01') && ruleIds(first.event).includes('S02'));
      assert.ok(!ruleIds(first.event).includes('C20'), 'manifestRuleOverrides applies');
      const validation = validator.validateEvent(first.event);
      assert.ok(validation.valid, validation.errors.join('\n'));
      assert.ok(!JSON.stringify(harness.events).includes(SECRET), 'the secret never leaves');
      const c01 = first.event.Payload.find((p) => p.RuleId === 'C01')!;
      assert.equal(c01.Source, path.join(dir, 'a.deployment.json'));
      assert.ok(Number(c01.ExtraDetails?.Line) > 1);
      // Docker is unreachable: degraded with a reason, files still analysed.
      assert.equal(harness.lastStatus()?.state, 'degraded');
      assert.match(harness.lastStatus()!.reason!, /Docker not reachable/);

      await source.snapshot!();
      assert.equal(harness.events.length, 2);
      assert.equal(harness.events[1]!.options.urgent, false, 'nothing new: not urgent');

      // A new file appears later and matches the glob: picked up by the poll.
      writeDeployment('b.deployment.json', (d) => (hostConfig(d, 'sensor').PidMode = 'host'));
      await harness.waitFor((events) => events.length >= 3, 5000);
      const third = harness.events[2]!;
      assert.ok(third.event.Payload.some((p) => p.RuleId === 'C05' && String(p.Source).endsWith('b.deployment.json')));
      assert.equal(third.options.urgent, true, 'a new High finding is urgent');

      // A broken file: the others are still analysed, the status says where it broke.
      writeFileSync(path.join(dir, 'c.deployment.json'), '{\n  "modulesContent": [\n}');
      await harness.waitFor(() => /c\.deployment\.json: invalid JSON at line 3, column 1/.test(harness.lastStatus()?.reason ?? ''), 5000);
      await source.stop();

      // Restart with the same state directory: the known Critical/High findings are not re-alerted.
      const before = harness.events.length;
      source = await DeploymentManifests.start(ctx);
      await source.snapshot!();
      assert.equal(harness.events.length, before + 1);
      assert.equal(harness.events[before]!.options.urgent, false);
    } finally {
      await source.stop();
      await harness.stop();
    }
  });

  test('nothing to analyse: degraded with an actionable reason, empty event', async () => {
    const harness = new SourceHarness(DeploymentManifests, { manifestSources: [], manifestAnalyseRunningDeployment: false });
    try {
      const source = await harness.start();
      await source.snapshot!();
      assert.equal(harness.lastStatus()?.state, 'degraded');
      assert.match(harness.lastStatus()!.reason!, /manifestSources is empty/);
      assert.equal(harness.events[0]!.event.IsEmpty, true);
    } finally {
      await harness.stop();
    }
  });
});
