import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { containerRuntimeSource } from '../../../src/sources/docker/index';
import type { DockerConnection } from '../../../src/sources/docker/client';
import { openDockerTests, type TestContainers } from '../../harness/docker';
import { referenceSchemaDir } from '../../harness/paths';
import { SourceHarness } from '../../harness/source-harness';

type Item = Record<string, unknown> & { Findings: Array<{ RuleId: string; Severity: string; Path: string }> };

let skip: string | false = false;
let connection: DockerConnection;
let containers: TestContainers;

before(async () => {
  ({ skip, connection, containers } = await openDockerTests());
});

after(async () => {
  await containers?.cleanup();
});

describe('ContainerInventory from a real dockerd', () => {
  test('risky and clean containers, running or not, with their configuration and findings', async (t) => {
    if (skip) return t.skip(skip);
    // Privileged containers cannot start on this machine: created only, their configuration is what counts.
    await containers.create('privileged', {
      HostConfig: { Privileged: true, Binds: ['/var/run/docker.sock:/var/run/docker.sock'], Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/xnull', CgroupPermissions: 'rwm' }] },
      Labels: { 'net.azure-devices.edge.owner': 'Microsoft.Azure.Devices.Edge.Agent' },
    });
    const risky = await containers.create('risky', {
      User: '0',
      HostConfig: { CapAdd: ['SYS_ADMIN', 'NET_ADMIN'], PidMode: 'host', Binds: ['/:/host:ro'], SecurityOpt: ['seccomp=unconfined'] },
    });
    const clean = await containers.create('clean', {
      User: '1000:1000',
      HostConfig: {
        CapDrop: ['ALL'],
        ReadonlyRootfs: true,
        SecurityOpt: ['no-new-privileges'],
        Memory: 64 * 1024 * 1024,
        NanoCpus: 500_000_000,
        PidsLimit: 50,
        LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } },
      },
    });
    await risky.start();
    await clean.start();

    const h = new SourceHarness(containerRuntimeSource);
    t.after(() => h.stop());
    const source = await h.start();
    await source.snapshot!();
    const inventories = h.eventsNamed('ContainerInventory');
    assert.equal(inventories.length, 1);
    const byName = new Map((inventories[0]!.Payload as Item[]).map((i) => [i.ContainerName as string, i]));

    const priv = byName.get(containers.name('privileged'));
    const risk = byName.get(containers.name('risky'));
    const good = byName.get(containers.name('clean'));
    assert.ok(priv && risk && good, `all three listed, got ${[...byName.keys()].join(', ')}`);

    assert.equal(priv.State, 'created');
    assert.equal(priv.StartedAt, undefined, 'never started');
    assert.equal(priv.Privileged, true);
    assert.equal(priv.ModuleName, containers.name('privileged'));
    assert.deepEqual(priv.Devices, [{ PathOnHost: '/dev/null', PathInContainer: '/dev/xnull', CgroupPermissions: 'rwm' }]);
    assert.deepEqual(priv.Mounts, [{ Type: 'bind', Source: '/var/run/docker.sock', Destination: '/var/run/docker.sock', Mode: '', ReadWrite: true, Propagation: 'rprivate' }]);
    const privRules = priv.Findings.map((f) => `${f.RuleId}:${f.Severity}`);
    for (const r of ['C01:Critical', 'C09:Critical', 'C15:Low']) assert.ok(privRules.includes(r), `${r} in ${privRules.join(' ')}`);

    assert.equal(risk.State, 'running');
    assert.match(String(risk.StartedAt), /^\d{4}-\d\d-\d\dT/);
    assert.equal(risk.RestartCount, 0);
    assert.equal(risk.NetworkMode, 'none');
    assert.equal(risk.PidMode, 'host');
    assert.equal(risk.User, '0');
    assert.deepEqual(risk.CapAdd, ['SYS_ADMIN', 'NET_ADMIN']);
    assert.ok((risk.SecurityOpt as string[]).includes('seccomp=unconfined'), 'the engine may add label=disable for --pid host');
    assert.deepEqual(risk.Mounts, [{ Type: 'bind', Source: '/', Destination: '/host', Mode: 'ro', ReadWrite: false, Propagation: 'rslave' }]);
    assert.equal(risk.ModuleName, undefined, 'not an IoT Edge module');
    const riskRules = risk.Findings.map((f) => `${f.RuleId}:${f.Severity}`);
    for (const r of ['C02:High', 'C05:High', 'C11:Medium', 'C12:High', 'C17:Medium', 'R01:Medium']) assert.ok(riskRules.includes(r), `${r} in ${riskRules.join(' ')}`);
    assert.ok(!riskRules.some((r) => r.startsWith('C01')));

    assert.equal(good.State, 'running');
    assert.equal(good.User, '1000:1000');
    assert.deepEqual(good.CapDrop, ['ALL']);
    assert.equal(good.ReadonlyRootfs, true);
    assert.equal(good.MemoryLimit, 64 * 1024 * 1024);
    assert.equal(good.NanoCpus, 500_000_000);
    assert.equal(good.PidsLimit, 50);
    const goodSevere = good.Findings.filter((f) => ['Critical', 'High', 'Medium'].includes(f.Severity));
    assert.deepEqual(goodSevere, [], 'a hardened container has no Medium-or-worse finding');

    const validator = createSchemaValidator(referenceSchemaDir());
    const result = validator.validateEvent(inventories[0]);
    assert.ok(result.valid, result.errors.join('\n'));
    assert.equal(h.lastStatus()?.state, 'running');
  });
});
