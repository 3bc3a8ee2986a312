import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyseContainer, analyseRunningDeployment, deploymentFromContainers } from '../../../src/rules/index';
import { hardenedHostConfig, type Doc } from './fixtures';

const OWNER = { 'net.azure-devices.edge.owner': 'Microsoft.Azure.Devices.Edge.Agent' };

/** The shape `docker inspect` returns (fields the rules read; the rest is irrelevant to them). */
function inspect(name: string, overrides: { config?: Doc; hostConfig?: Doc; mounts?: Doc[]; labels?: Doc } = {}): Doc {
  return {
    Id: `${name}0123456789abcdef`,
    Name: `/${name}`,
    State: { Running: true },
    Config: { User: '1000', Env: ['PATH=/usr/bin'], Image: `myacr.azurecr.io/${name}:1.0`, Labels: { ...OWNER, ...(overrides.labels ?? {}) }, ...(overrides.config ?? {}) },
    HostConfig: { ...hardenedHostConfig(), NetworkMode: 'azure-iot-edge', ...(overrides.hostConfig ?? {}) },
    Mounts: overrides.mounts ?? [],
    NetworkSettings: { Networks: { 'azure-iot-edge': {} } },
  };
}

describe('analyseContainer (docker inspect)', () => {
  test('privileged, host PID, docker socket and CAP_SYS_ADMIN are reported with inspect paths', () => {
    const findings = analyseContainer(
      inspect('sensor', {
        hostConfig: { Privileged: true, PidMode: 'host', CapAdd: ['CAP_SYS_ADMIN'] },
        mounts: [{ Type: 'bind', Source: '/var/run/docker.sock', Destination: '/var/run/docker.sock', RW: true, Propagation: 'rprivate' }],
      }) as never,
    );
    const byRule = new Map(findings.map((f) => [f.ruleId, f]));
    assert.equal(byRule.get('C01')?.path, '$.HostConfig.Privileged');
    assert.equal(byRule.get('C05')?.path, '$.HostConfig.PidMode');
    assert.equal(byRule.get('C02')?.path, '$.HostConfig.CapAdd[0]');
    assert.equal(byRule.get('C09')?.path, '$.Mounts[0].Source');
    assert.equal(byRule.get('C01')?.module, 'sensor');
  });

  test('module name comes from the edge module label, else the container name', () => {
    const [f] = analyseContainer(inspect('abc', { hostConfig: { Privileged: true }, labels: { 'net.azure-devices.edge.module': 'camera' } }) as never).filter((x) => x.ruleId === 'C01');
    assert.equal(f?.module, 'camera');
  });

  test('a hardened container gives only the digest finding', () => {
    const findings = analyseContainer(inspect('sensor', { config: { Image: 'myacr.azurecr.io/sensor:1.0' }, hostConfig: {} }) as never);
    assert.deepEqual(findings.map((f) => f.ruleId), ['I02']);
  });

  test('secrets in Env are reported by name, never by value; edgeAgent gets S06', () => {
    const key = `${'k'.repeat(43)}=`;
    const findings = analyseContainer(inspect('edgeAgent', { config: { Env: [`DeviceKey=${key}`, 'Token=abc'] } }) as never);
    const s06 = findings.filter((f) => f.ruleId === 'S06');
    assert.equal(s06.length, 2);
    assert.ok(s06.every((f) => !JSON.stringify(f).includes(key) && !JSON.stringify(f).includes('abc')));
    assert.ok(s06.some((f) => f.path === '$.Config.Env[0]' && f.severity === 'Critical'));
  });

  test('expected IoT Edge workload socket mount is not C10; the management socket on a module is', () => {
    const workload = { Type: 'bind', Source: '/var/lib/aziot/edged/mnt/sensor.sock', Destination: '/var/run/iotedge/workload.sock', RW: true };
    const mgmt = { Type: 'bind', Source: '/var/run/iotedge/mgmt.sock', Destination: '/var/run/iotedge/mgmt.sock', RW: true };
    assert.equal(analyseContainer(inspect('sensor', { mounts: [workload] }) as never).filter((f) => f.ruleId === 'C10').length, 0);
    assert.equal(analyseContainer(inspect('edgeAgent', { mounts: [workload, mgmt] }) as never).filter((f) => f.ruleId === 'C10').length, 0);
    assert.equal(analyseContainer(inspect('sensor', { mounts: [mgmt] }) as never).filter((f) => f.ruleId === 'C10').length, 1);
  });

  test('garbage input does not throw', () => {
    for (const bad of [null, 42, 'x', [], {}, { HostConfig: 'x', Config: [], Mounts: {} }, { Config: { Env: [1, null, '=', 'A'] } }]) {
      assert.ok(Array.isArray(analyseContainer(bad as never)));
    }
  });
});

describe('deploymentFromContainers', () => {
  test('rebuilds modules from edgeAgent-owned containers, leaves others out, reads edgeAgent env label', () => {
    const agent = inspect('edgeAgent', {
      config: { Image: 'mcr.microsoft.com/azureiotedge-agent:1.5.9', Env: ['RuntimeLogLevel=debug', 'PATH=/bin'] },
      labels: { 'net.azure-devices.edge.env': JSON.stringify({ RuntimeLogLevel: { value: 'debug' } }), 'net.azure-devices.edge.original-image': 'mcr.microsoft.com/azureiotedge-agent:1.5' },
    });
    const sensor = inspect('sensor', { hostConfig: { Privileged: true } });
    const stranger = { ...inspect('other', { hostConfig: { Privileged: true } }), Config: { Labels: {} } };
    const doc = deploymentFromContainers([agent, sensor, stranger] as never) as Doc;
    const desired = doc.modulesContent.$edgeAgent['properties.desired'];
    assert.deepEqual(Object.keys(desired.modules), ['sensor']);
    assert.equal(desired.systemModules.edgeAgent.settings.image, 'mcr.microsoft.com/azureiotedge-agent:1.5');
    assert.deepEqual(desired.systemModules.edgeAgent.env, { RuntimeLogLevel: { value: 'debug' } });
    assert.deepEqual(desired.systemModules.edgeAgent.settings.createOptions.Env, ['PATH=/bin']);

    const findings = analyseRunningDeployment([agent, sensor, stranger] as never);
    assert.ok(findings.some((f) => f.ruleId === 'C01' && f.module === 'sensor' && f.path.endsWith('.modules.sensor.settings.createOptions.HostConfig.Privileged')));
    assert.ok(findings.some((f) => f.ruleId === 'H06' && f.module === 'edgeAgent'));
    assert.ok(findings.some((f) => f.ruleId === 'I03' && f.module === 'edgeAgent'));
    assert.ok(!findings.some((f) => f.module === 'other'));
    // File-only rules do not apply to a rebuilt deployment.
    assert.ok(!findings.some((f) => ['M01', 'M04', 'M05', 'I06'].includes(f.ruleId)));
  });
});
