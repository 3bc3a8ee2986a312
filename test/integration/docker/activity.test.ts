import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import type { DockerConnection } from '../../../src/sources/docker/client';
import { containerRuntimeSource } from '../../../src/sources/docker/index';
import { execIn, openDockerTests, TEST_IMAGE, testDockerSocket, type TestContainers } from '../../harness/docker';
import { referenceSchemaDir } from '../../harness/paths';
import { SourceHarness, type RecordedEvent } from '../../harness/source-harness';
import { waitUntil } from '../../harness/wait-until';

type Item = Record<string, unknown>;

let skip: string | false = false;
let connection: DockerConnection;
let containers: TestContainers;
const volumes: string[] = [];
const tags: string[] = [];

before(async () => {
  ({ skip, connection, containers } = await openDockerTests());
});

after(async () => {
  await containers?.cleanup();
  for (const v of volumes) await connection.docker.getVolume(v).remove({ force: true }).catch(() => undefined);
  for (const tag of tags) await connection.docker.getImage(tag).remove().catch(() => undefined);
});

function activities(h: SourceHarness, filter: (item: Item) => boolean): Array<{ item: Item; urgent: boolean }> {
  return h.events
    .filter((e: RecordedEvent) => e.event.Name === 'ContainerActivity')
    .map((e) => ({ item: e.event.Payload[0] as Item, urgent: e.options.urgent === true }))
    .filter((a) => filter(a.item));
}

async function runningSource(): Promise<SourceHarness> {
  const h = new SourceHarness(containerRuntimeSource);
  await h.start();
  await waitUntil(() => h.lastStatus()?.state === 'running', 10_000, () => `the source running (status: ${JSON.stringify(h.lastStatus())})`, 20);
  return h;
}

describe('ContainerActivity from a real dockerd', () => {
  test('create, start, exec, die and destroy in order, exec command and user, exec urgent', async (t) => {
    if (skip) return t.skip(skip);
    const h = await runningSource();
    t.after(() => h.stop());
    const c = await containers.create('life');
    await c.start();
    assert.equal(await execIn(c, ['sh', '-c', 'echo "a b" | cat'], '1000'), 0);
    assert.equal(await execIn(c, ['id']), 0);
    await c.kill({ signal: 'SIGKILL' });
    await c.remove();
    const mine = (item: Item) => item.ContainerId === c.id;
    await h.waitFor(() => activities(h, mine).some((a) => a.item.Action === 'destroy'), 10_000);

    const seen = activities(h, mine);
    assert.deepEqual(
      seen.map((a) => a.item.Action),
      ['create', 'start', 'exec_create', 'exec_start', 'exec_die', 'exec_create', 'exec_start', 'exec_die', 'kill', 'die', 'destroy'],
    );
    const [create, , exec1c, exec1s, exec1d, exec2c, , , kill, die] = seen;
    assert.equal(create!.item.ContainerName, containers.name('life'));
    assert.equal(create!.item.Image, TEST_IMAGE);
    assert.equal(create!.urgent, false);
    for (const e of [exec1c!, exec1s!]) {
      assert.equal(e.item.Command, `sh -c 'echo "a b" | cat'`);
      assert.equal(e.item.User, '1000');
      assert.equal(e.item.ExecPrivileged, false);
      assert.equal(e.urgent, true, 'exec is urgent');
    }
    assert.equal(exec1d!.item.ExitCode, 0);
    assert.equal(exec1d!.urgent, false);
    assert.equal(exec1c!.item.ExecId, exec1s!.item.ExecId);
    assert.equal(exec2c!.item.Command, 'id');
    assert.equal(exec2c!.item.User, 'root', 'no --user and no container user: root');
    assert.deepEqual(exec2c!.item.ExtraDetails, { UserSource: 'default' });
    assert.equal(kill!.item.Signal, '9');
    assert.equal(die!.item.ExitCode, 137);

    const times = seen.map((a) => Date.parse(String(a.item.EventTime)));
    assert.deepEqual([...times].sort((a, b) => a - b), times, 'emitted in the engine\'s order');
    const validator = createSchemaValidator(referenceSchemaDir());
    for (const e of h.eventsNamed('ContainerActivity')) {
      const r = validator.validateEvent(e);
      assert.ok(r.valid, r.errors.join('\n'));
    }
  });

  test('start of a container with a Critical finding is urgent and lists it; a clean start is not', async (t) => {
    if (skip) return t.skip(skip);
    const h = await runningSource();
    t.after(() => h.stop());
    const socket = await containers.create('socket', { HostConfig: { Binds: [`${testDockerSocket()}:/var/run/docker.sock:ro`] } });
    const plain = await containers.create('plain', { User: '1000' });
    await socket.start();
    await plain.start();
    await h.waitFor(() => activities(h, (i) => i.Action === 'start' && (i.ContainerId === socket.id || i.ContainerId === plain.id)).length === 2);
    const [s] = activities(h, (i) => i.Action === 'start' && i.ContainerId === socket.id);
    const [p] = activities(h, (i) => i.Action === 'start' && i.ContainerId === plain.id);
    assert.equal(s!.urgent, true);
    const findings = s!.item.Findings as Array<{ RuleId: string; Severity: string }>;
    assert.ok(findings.some((f) => f.RuleId === 'C09' && f.Severity === 'Critical'), JSON.stringify(findings));
    assert.ok(findings.every((f) => f.Severity === 'Critical' || f.Severity === 'High'));
    assert.equal(p!.urgent, false);
    assert.equal(p!.item.Findings, undefined);
  });

  test('pause, unpause, rename, update, image tag/untag and volume mount', async (t) => {
    if (skip) return t.skip(skip);
    const h = await runningSource();
    t.after(() => h.stop());
    const volume = `eg-vol-${containers.runId}`;
    await connection.docker.createVolume({ Name: volume });
    volumes.push(volume);
    const c = await containers.create('misc', { HostConfig: { Binds: [`${volume}:/data`] } });
    await c.start();
    await c.pause();
    await c.unpause();
    await c.rename({ name: containers.name('misc2') });
    await c.update({ Memory: 64 * 1024 * 1024, MemorySwap: 128 * 1024 * 1024 });
    const tag = `eg-tag-${containers.runId}`;
    await connection.docker.getImage(TEST_IMAGE).tag({ repo: 'local/busybox', tag });
    tags.push(`local/busybox:${tag}`);
    await connection.docker.getImage(`local/busybox:${tag}`).remove();
    await h.waitFor(() => activities(h, (i) => i.Action === 'untag').length > 0 && activities(h, (i) => i.Action === 'update' && i.ContainerId === c.id).length > 0);

    const actions = activities(h, (i) => i.ContainerId === c.id).map((a) => a.item.Action);
    for (const a of ['create', 'mount', 'start', 'pause', 'unpause', 'rename', 'update']) assert.ok(actions.includes(a), `${a} in ${actions.join(',')}`);
    const [mount] = activities(h, (i) => i.Action === 'mount' && i.ContainerId === c.id);
    assert.equal(mount!.item.VolumeName, volume);
    assert.equal(mount!.item.Destination, '/data');
    assert.equal(mount!.item.ReadWrite, true);
    const [rename] = activities(h, (i) => i.Action === 'rename' && i.ContainerId === c.id);
    assert.equal(rename!.item.OldName, containers.name('misc'));
    assert.equal(rename!.item.ContainerName, containers.name('misc2'));
    const tagged = activities(h, (i) => i.ObjectType === 'image' && i.Action === 'tag' && i.ImageName === `local/busybox:${tag}`);
    assert.equal(tagged.length, 1);
    assert.match(String(tagged[0]!.item.ImageId), /^sha256:/);
    const ignored = h.eventsNamed('ContainerActivity').filter((e) => ['connect', 'disconnect', 'attach'].includes(String(e.Payload[0]!.Action)));
    assert.deepEqual(ignored, [], 'network and attach events are not reported by default');
  });
});
