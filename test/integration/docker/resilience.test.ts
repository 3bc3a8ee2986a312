import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { SettingValue } from '../../../src/config/settings';
import type { DockerConnection } from '../../../src/sources/docker/client';
import { containerRuntimeSource, type ContainerRuntimeSource } from '../../../src/sources/docker/index';
import { dockerEnvScript, execIn, openDockerTests, testDockerSocket, type TestContainers } from '../../harness/docker';
import { SourceHarness } from '../../harness/source-harness';
import { EngineProxy } from './engine-proxy';

type Item = Record<string, unknown>;
const run = promisify(execFile);

let skip: string | false = false;
let connection: DockerConnection;
let containers: TestContainers;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-docker-test-'));

before(async () => {
  ({ skip, connection, containers } = await openDockerTests());
});

after(async () => {
  await containers?.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

const FAST_RETRY: Record<string, SettingValue> = { dockerReconnectMinBackoff: 'PT0.1S', dockerReconnectMaxBackoff: 'PT0.2S' };

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function actionsOf(h: SourceHarness, id: string): string[] {
  return h
    .eventsNamed('ContainerActivity')
    .map((e) => e.Payload[0] as Item)
    .filter((i) => i.ContainerId === id)
    .map((i) => String(i.Action));
}

describe('ContainerRuntime without a daemon', () => {
  test('a socket path that does not exist: failed status with the reason, retries, no crash', async (t) => {
    const socket = path.join(tmp, 'absent.sock');
    const h = new SourceHarness(containerRuntimeSource, { ...FAST_RETRY, dockerHost: `unix://${socket}` });
    const source = (await h.start()) as ContainerRuntimeSource;
    t.after(() => h.stop());
    await until('three failed attempts', () => source.stats().disconnects >= 3);
    const status = h.lastStatus();
    assert.equal(status?.state, 'failed');
    assert.match(String(status?.reason), new RegExp(`${socket}.*not reachable.*ENOENT.*retrying in 0\\.[12] s`));
    await source.snapshot!();
    assert.equal(h.events.length, 0, 'no inventory without a daemon');
  });

  test('a socket that accepts and closes at once: failed status, retries', async (t) => {
    const socket = path.join(tmp, 'slam.sock');
    let accepted = 0;
    const server = net.createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const h = new SourceHarness(containerRuntimeSource, { ...FAST_RETRY, dockerHost: `unix://${socket}` });
    const source = (await h.start()) as ContainerRuntimeSource;
    t.after(() => h.stop());
    await until('three failed attempts', () => source.stats().disconnects >= 3);
    assert.ok(accepted >= 3);
    assert.equal(h.lastStatus()?.state, 'failed');
    assert.match(String(h.lastStatus()?.reason), /not reachable: (socket hang up|write EPIPE|read ECONNRESET)/);
  });

  test('a setting that is not a Docker address: the source is unavailable, with the reason', async () => {
    const h = new SourceHarness(containerRuntimeSource, { dockerHost: 'ssh://somewhere' });
    await assert.rejects(h.start(), (e: Error) => e.name === 'SourceUnavailableError' && /dockerHost setting: .*unsupported scheme ssh:/.test(e.message));
    await h.stop();
  });

  test('recovers without a restart when the socket appears', async (t) => {
    if (skip) return t.skip(skip);
    const link = path.join(tmp, 'later.sock');
    symlinkSync(path.join(tmp, 'nothing-yet.sock'), link);
    const h = new SourceHarness(containerRuntimeSource, { ...FAST_RETRY, dockerHost: `unix://${link}` });
    const source = (await h.start()) as ContainerRuntimeSource;
    t.after(() => h.stop());
    await until('a failed attempt', () => source.stats().disconnects >= 2);
    assert.equal(h.lastStatus()?.state, 'failed');
    unlinkSync(link);
    symlinkSync(testDockerSocket(), link);
    await until('running', () => h.lastStatus()?.state === 'running');
    assert.match(String(h.lastStatus()?.method), /Docker Engine API 1\.\d+/);
    const c = await containers.create('late');
    await h.waitFor(() => actionsOf(h, c.id).includes('create'));
  });
});

describe('ContainerRuntime across connection loss (real dockerd)', () => {
  test('a socket hiccup loses no event and duplicates none', async (t) => {
    if (skip) return t.skip(skip);
    const proxy = new EngineProxy(path.join(tmp, 'hiccup.sock'));
    await proxy.open();
    t.after(() => proxy.cut());
    const h = new SourceHarness(containerRuntimeSource, { ...FAST_RETRY, dockerHost: `unix://${proxy.socketPath}` });
    const source = (await h.start()) as ContainerRuntimeSource;
    t.after(() => h.stop());
    await until('running', () => h.lastStatus()?.state === 'running');

    const a = await containers.create('hiccup-a');
    await a.start();
    await h.waitFor(() => actionsOf(h, a.id).includes('start'));
    // Within the resume margin of the last event: the replay includes events already reported.
    await proxy.cut();
    await until('the loss noticed', () => h.lastStatus()?.state === 'failed');
    const b = await containers.create('hiccup-b');
    assert.equal(await execIn(a, ['true']), 0);
    await a.kill({ signal: 'SIGKILL' });
    await proxy.open();
    await h.waitFor(() => actionsOf(h, a.id).includes('die'), 10_000);
    await b.remove();
    await h.waitFor(() => actionsOf(h, b.id).includes('destroy'));

    assert.deepEqual(actionsOf(h, a.id), ['create', 'start', 'exec_create', 'exec_start', 'exec_die', 'kill', 'die']);
    assert.deepEqual(actionsOf(h, b.id), ['create', 'destroy']);
    const stats = source.stats();
    assert.ok(stats.connects >= 2, `reconnected (${stats.connects} connects)`);
    assert.ok(stats.duplicatesDropped >= 1, `replayed events dropped (${stats.duplicatesDropped})`);
    assert.equal(h.lastStatus()?.state, 'running');
    // The reconnect also took a fresh inventory.
    await h.waitFor(() => h.eventsNamed('ContainerInventory').length >= 1);
  });

  test('malformed and oversized event lines are skipped with a warning, the stream goes on', async (t) => {
    if (skip) return t.skip(skip);
    const proxy = new EngineProxy(path.join(tmp, 'garbage.sock'));
    await proxy.open();
    t.after(() => proxy.cut());
    const h = new SourceHarness(containerRuntimeSource, { ...FAST_RETRY, dockerHost: `unix://${proxy.socketPath}` });
    const source = (await h.start()) as ContainerRuntimeSource;
    t.after(() => h.stop());
    await until('running', () => h.lastStatus()?.state === 'running');
    const a = await containers.create('garbage-a');
    await h.waitFor(() => actionsOf(h, a.id).includes('create'));

    assert.equal(proxy.inject('this is not json\n{"Type":"container","Action":\n[1,2,3]\n{"Type":"container","Action":"start"}\n'), 1);
    proxy.inject(`{"Type":"container","Action":"create","pad":"${'x'.repeat(2 * 1024 * 1024)}"}\n`);
    proxy.inject('{"Type":"contai'); // the rest of this line arrives with the next real event
    const b = await containers.create('garbage-b');
    await b.remove();
    await h.waitFor(() => actionsOf(h, b.id).includes('destroy'));

    const stats = source.stats();
    assert.equal(stats.malformedLines, 5, 'four bad lines, plus the half line glued to the next real event');
    assert.equal(stats.oversizedLines, 1);
    assert.equal(stats.connects, 1, 'no reconnect needed');
    assert.deepEqual(actionsOf(h, b.id), ['destroy'], "garbage-b's create was the line glued to the half line: lost, the rest goes on");
    assert.equal(h.lastStatus()?.state, 'running');
  });
});

describe('ContainerRuntime across a dockerd restart', () => {
  test('events right after the restart are not lost, none is duplicated', async (t) => {
    if (skip) return t.skip(skip);
    if (process.env.EDGEGUARD_TEST_NO_DOCKERD_RESTART) {
      const reason = 'SKIPPED: EDGEGUARD_TEST_NO_DOCKERD_RESTART is set';
      console.error(reason);
      return t.skip(reason);
    }
    const status = await run('bash', [dockerEnvScript(), 'status']).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    const ours = (await run('bash', [dockerEnvScript(), 'host'])).stdout.trim();
    if (!/private engine of docker-env\.sh/.test(status.stdout) || process.env.DOCKER_HOST !== ours) {
      const reason = `SKIPPED: DOCKER_HOST (${process.env.DOCKER_HOST}) is not the private engine of scripts/docker-env.sh (${status.stdout.trim()}); not restarting someone else's daemon`;
      console.error(reason);
      return t.skip(reason);
    }
    const h = new SourceHarness(containerRuntimeSource, { dockerReconnectMinBackoff: 'PT1S', dockerReconnectMaxBackoff: 'PT2S' });
    const source = (await h.start()) as ContainerRuntimeSource;
    t.after(() => h.stop());
    await until('running', () => h.lastStatus()?.state === 'running');
    // Created, not running: a running container would be stopped by the shutdown, and a daemon logs
    // those stops after it has closed its API, where no client can read them.
    const a = await containers.create('restart');
    await h.waitFor(() => actionsOf(h, a.id).includes('create'));

    await run('bash', [dockerEnvScript(), 'restart'], { timeout: 90_000 });
    // At once, before the watcher's next attempt (backoff >= 1 s) in most runs: these are read through `since`.
    await a.rename({ name: containers.name('restart2') });
    await a.start();
    assert.equal(await execIn(a, ['id', '-u'], '1000'), 0);
    await a.kill({ signal: 'SIGKILL' });
    await a.remove();
    await h.waitFor(() => actionsOf(h, a.id).includes('destroy'), 30_000);

    assert.deepEqual(actionsOf(h, a.id), ['create', 'rename', 'start', 'exec_create', 'exec_start', 'exec_die', 'kill', 'die', 'destroy']);
    const stats = source.stats();
    assert.ok(stats.connects >= 2, `reconnected (${stats.connects})`);
    assert.ok(h.statuses.some((s) => s.state === 'failed'), 'the outage was reported');
    assert.equal(h.lastStatus()?.state, 'running');
    const exec = h.eventsNamed('ContainerActivity').map((e) => e.Payload[0] as Item).find((i) => i.ContainerId === a.id && i.Action === 'exec_start');
    assert.equal(exec?.Command, 'id -u');
    console.error(`dockerd restart: ${stats.connects} connects, ${stats.disconnects} failed attempts, ${stats.duplicatesDropped} replayed events dropped`);
  });
});
