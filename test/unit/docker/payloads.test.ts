import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContainerInspectInfo } from 'dockerode';
import { createEvent } from '../../../src/core/event';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { analyseContainer } from '../../../src/rules/index';
import { activityPayload, healthCheckCommand } from '../../../src/sources/docker/activity';
import { parseDockerEventLine, type DockerEvent } from '../../../src/sources/docker/events';
import { inventoryItem } from '../../../src/sources/docker/inventory';
import { referenceSchemaDir } from '../../harness/paths';

const validator = createSchemaValidator(referenceSchemaDir());
const ID = 'b2aac586a244a8a6e093612e8aa6e20f70952ec271cbab724b2208ab940b0776';

function event(line: object): DockerEvent {
  const parsed = parseDockerEventLine(JSON.stringify({ time: 1795331707, timeNano: 1795331707456365378, scope: 'local', ...line }));
  assert.ok(parsed.ok);
  return parsed.event;
}

function assertValid(name: string, category: 'Periodic' | 'Triggered', payload: ReturnType<typeof activityPayload>[]): void {
  const result = validator.validateEvent(createEvent(name, category, payload));
  assert.ok(result.valid, result.errors.join('\n'));
}

// Shaped like docker inspect of Debian's docker.io 20.10 (API 1.41), trimmed to what is read.
const RISKY = {
  Id: ID,
  Name: '/sensor',
  Image: 'sha256:3352213b2f00b7f88e0b76ce2e2b20ee68eecb5755dc29fb0e6358c4432540d2',
  RestartCount: 2,
  State: { Status: 'exited', Running: false, ExitCode: 137, OOMKilled: true, StartedAt: '2026-11-22T07:00:00.1Z' },
  Config: {
    Image: 'local/busybox:1',
    User: '0',
    Labels: { 'net.azure-devices.edge.owner': 'Microsoft.Azure.Devices.Edge.Agent' },
    Env: ['DB_PASSWORD=hunter2-secret'],
  },
  HostConfig: {
    Privileged: true,
    CapAdd: ['SYS_ADMIN'],
    CapDrop: ['NET_RAW'],
    NetworkMode: 'host',
    PidMode: 'host',
    IpcMode: 'private',
    UTSMode: '',
    UsernsMode: '',
    Devices: [{ PathOnHost: '/dev/mem', PathInContainer: '/dev/mem', CgroupPermissions: 'rwm' }],
    PortBindings: { '8883/tcp': [{ HostIp: '', HostPort: '8883' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '53' }] },
    SecurityOpt: ['seccomp=unconfined'],
    ReadonlyRootfs: false,
    Memory: 0,
    NanoCpus: 0,
    CpuQuota: 0,
    CpuShares: 0,
    PidsLimit: null,
  },
  Mounts: [{ Type: 'bind', Source: '/var/run/docker.sock', Destination: '/var/run/docker.sock', Mode: '', RW: true, Propagation: 'rprivate' }],
} as unknown as ContainerInspectInfo;

describe('ContainerInventory payload', () => {
  test('a risky container: configuration and findings, schema-valid, no secret', () => {
    const findings = analyseContainer(RISKY);
    const item = inventoryItem(RISKY, findings);
    assert.equal(item.ContainerName, 'sensor');
    assert.equal(item.ModuleName, 'sensor', 'edgeAgent-owned: module name from its labels');
    assert.equal(item.State, 'exited');
    assert.equal(item.ExitCode, 137);
    assert.equal(item.OOMKilled, true);
    assert.equal(item.Privileged, true);
    assert.deepEqual(item.CapAdd, ['SYS_ADMIN']);
    assert.equal(item.PidMode, 'host');
    assert.equal(item.PidsLimit, 0);
    assert.deepEqual(item.Mounts, [{ Type: 'bind', Source: '/var/run/docker.sock', Destination: '/var/run/docker.sock', Mode: '', ReadWrite: true, Propagation: 'rprivate' }]);
    assert.deepEqual(item.PublishedPorts, [
      { ContainerPort: 8883, Protocol: 'tcp', HostIp: '', HostPort: '8883' },
      { ContainerPort: 53, Protocol: 'udp', HostIp: '127.0.0.1', HostPort: '53' },
    ]);
    const ids = (item.Findings as Array<{ RuleId: string; Severity: string }>).map((f) => `${f.RuleId}:${f.Severity}`);
    for (const expected of ['C01:Critical', 'C09:Critical', 'C02:High', 'C04:High', 'C05:High', 'C12:High', 'C17:Medium', 'S03:Medium']) {
      assert.ok(ids.includes(expected), `${expected} in ${ids.join(' ')}`);
    }
    assert.ok(!JSON.stringify(item).includes('hunter2'));
    assertValid('ContainerInventory', 'Periodic', [item]);
  });

  test('a daemon that omits fields still gives a schema-valid item', () => {
    const item = inventoryItem({ Id: ID, Name: '/bare' } as unknown as ContainerInspectInfo, []);
    assert.equal(item.State, 'unknown');
    assert.equal(item.ModuleName, undefined, 'not an IoT Edge module');
    assert.equal(item.StartedAt, undefined);
    assertValid('ContainerInventory', 'Periodic', [item]);
  });

  test('an empty inventory is an empty Periodic event', () => {
    assertValid('ContainerInventory', 'Periodic', []);
  });

  test('the schema rejects what it does not define', () => {
    const item = { ...inventoryItem(RISKY, []), Unexpected: 1 };
    assert.equal(validator.validateEvent(createEvent('ContainerInventory', 'Periodic', [item])).valid, false);
  });
});

describe('ContainerActivity payload', () => {
  const actor = (attrs: Record<string, string>) => ({ ID, Attributes: { image: 'local/busybox:1', name: 'evt1', ...attrs } });

  test('lifecycle actions carry their details', () => {
    const die = activityPayload(event({ Type: 'container', Action: 'die', Actor: actor({ exitCode: '137' }) }));
    assert.equal(die.ExitCode, 137);
    const kill = activityPayload(event({ Type: 'container', Action: 'kill', Actor: actor({ signal: '15' }) }));
    assert.equal(kill.Signal, '15');
    const rename = activityPayload(event({ Type: 'container', Action: 'rename', Actor: actor({ oldName: '/evt0' }) }));
    assert.equal(rename.OldName, 'evt0');
    for (const p of [die, kill, rename]) {
      assert.equal(p.ContainerName, 'evt1');
      assert.equal(p.EventTime, '2026-11-22T07:15:07.456Z');
      assertValid('ContainerActivity', 'Triggered', [p]);
    }
  });

  test('exec: command from the event, or from the exec inspect with user and privilege', () => {
    const e = event({ Type: 'container', Action: 'exec_start: sh -c cat /etc/shadow', Actor: actor({ execID: 'e1' }) });
    const bare = activityPayload(e);
    assert.equal(bare.Action, 'exec_start');
    assert.equal(bare.Command, 'sh -c cat /etc/shadow');
    const rich = activityPayload(e, { exec: { command: "sh -c 'cat /etc/shadow'", user: '1000', userSource: 'exec', privileged: true } });
    assert.equal(rich.Command, "sh -c 'cat /etc/shadow'");
    assert.equal(rich.User, '1000');
    assert.equal(rich.ExecPrivileged, true);
    assert.deepEqual(rich.ExtraDetails, { UserSource: 'exec' });
    assertValid('ContainerActivity', 'Triggered', [bare, rich]);
  });

  test('newer engines: execCommand attribute', () => {
    const p = activityPayload(event({ Type: 'container', Action: 'exec_create', Actor: actor({ execID: 'e2', execCommand: 'id -u' }) }));
    assert.equal(p.Command, 'id -u');
  });

  test('start with findings', () => {
    const findings = analyseContainer(RISKY).filter((f) => f.severity === 'Critical');
    const p = activityPayload(event({ Type: 'container', Action: 'start', Actor: actor({ 'net.azure-devices.edge.owner': 'Microsoft.Azure.Devices.Edge.Agent' }) }), { findings });
    assert.equal(p.ModuleName, 'evt1');
    assert.ok((p.Findings as unknown[]).length >= 2);
    assertValid('ContainerActivity', 'Triggered', [p]);
  });

  test('image and volume events', () => {
    const tag = activityPayload(event({ Type: 'image', Action: 'tag', Actor: { ID: 'sha256:3352', Attributes: { name: 'local/busybox:2' } } }));
    assert.deepEqual([tag.ImageId, tag.ImageName], ['sha256:3352', 'local/busybox:2']);
    const pull = activityPayload(event({ Type: 'image', Action: 'pull', Actor: { ID: 'mcr.microsoft.com/azureiotedge-agent:1.5', Attributes: { name: 'mcr.microsoft.com/azureiotedge-agent' } } }));
    assert.equal(pull.ImageName, 'mcr.microsoft.com/azureiotedge-agent');
    const mount = activityPayload(
      event({ Type: 'volume', Action: 'mount', Actor: { ID: 'data', Attributes: { container: ID, destination: '/data', driver: 'local', propagation: '', 'read/write': 'true' } } }),
      { containerName: 'evt1' },
    );
    assert.deepEqual([mount.VolumeName, mount.ContainerId, mount.ContainerName, mount.Destination, mount.ReadWrite], ['data', ID, 'evt1', '/data', true]);
    assertValid('ContainerActivity', 'Triggered', [tag, pull, mount]);
  });

  test('health check commands as the engine shows them', () => {
    assert.equal(healthCheckCommand(['CMD-SHELL', 'curl -f localhost']), '/bin/sh -c curl -f localhost');
    assert.equal(healthCheckCommand(['CMD', 'true']), 'true');
    assert.equal(healthCheckCommand(['NONE']), undefined);
    assert.equal(healthCheckCommand(undefined), undefined);
  });
});
