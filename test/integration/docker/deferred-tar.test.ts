import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { installLeanModules } from '../../../src/agent/lean-modules';
import { openDockerTests, type DockerTests } from '../../harness/docker';

// As in the agent: the hooks first, so dockerode gets the deferred tar-fs (src/agent/lean-modules.ts).
installLeanModules();

const IMAGE = `h-lean-deferred-tar:${process.pid}`;
let t0: DockerTests;
const context = mkdtempSync(path.join(os.tmpdir(), 'deferred-tar-'));

before(async () => {
  t0 = await openDockerTests();
});

after(async () => {
  if (!t0?.skip) await t0.connection.docker.getImage(IMAGE).remove({ force: true }).catch(() => undefined);
  rmSync(context, { recursive: true, force: true });
});

describe('dockerode through the deferred tar-fs, against a real dockerd', () => {
  test('buildImage packs its context with tar-fs loaded on first use', async (t) => {
    if (t0.skip) return t.skip(t0.skip);
    const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/tar-stream/'));
    assert.ok(!loaded(), 'tar-fs not loaded with dockerode');
    writeFileSync(path.join(context, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    writeFileSync(path.join(context, 'hello.txt'), 'packed by the deferred tar-fs\n');
    const docker = t0.connection.docker;
    const stream = await docker.buildImage({ context, src: ['Dockerfile', 'hello.txt'] }, { t: IMAGE });
    const output = await new Promise<Array<{ error?: string }>>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null, res: Array<{ error?: string }>) => (err ? reject(err) : resolve(res))));
    assert.deepEqual(output.filter((o) => o.error), []);
    assert.ok(loaded(), 'tar-fs loaded on first use');
    const image = await docker.getImage(IMAGE).inspect();
    assert.ok(image.Id.startsWith('sha256:'));
    assert.ok(image.RootFS.Layers && image.RootFS.Layers.length === 1, 'one layer: the copied file');
  });
});
