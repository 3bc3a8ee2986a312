import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { testDockerSocket } from '../../harness/docker-host';
import { repoRoot } from '../../harness/paths';

const run = promisify(execFile);
const script = path.join(repoRoot(), 'scripts', 'docker-env.sh');

function getJson(socketPath: string, urlPath: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: urlPath, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
        try {
          resolve(JSON.parse(body) as Record<string, unknown>);
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.on('error', reject).on('timeout', () => req.destroy(new Error('timeout')));
  });
}

test("the tests' Docker engine is private: its own socket and data root, never the machine's daemon", async (t) => {
  const host = (await run('bash', [script, 'host'])).stdout.trim();
  assert.equal(process.env.DOCKER_HOST, host, 'tests reach Docker through DOCKER_HOST, set to the private engine');
  assert.notEqual(host, 'unix:///var/run/docker.sock');
  assert.notEqual(testDockerSocket(), '/var/run/docker.sock');
  const info = await getJson(testDockerSocket(), '/info').catch((e: Error) => e);
  if (info instanceof Error) {
    const reason = `SKIPPED: the private engine does not answer (${info.message}); scripts/docker-env.sh start`;
    console.error(reason);
    return t.skip(reason);
  }
  assert.notEqual(info.DockerRootDir, '/var/lib/docker');
  const foreign = await getJson('/var/run/docker.sock', '/info').catch(() => undefined);
  if (foreign) assert.notEqual(foreign.ID, info.ID, 'a daemon at /var/run/docker.sock is another daemon, left alone');
});

test('a second engine of the script starts beside a running daemon, apart from it, and stops without touching it', async (t) => {
  if (process.getuid?.() !== 0) {
    const reason = 'SKIPPED: starting a dockerd needs root';
    console.error(reason);
    return t.skip(reason);
  }
  // The engine already running plays the part of the user's daemon.
  const first = await getJson(testDockerSocket(), '/info').catch(() => undefined);
  if (!first) {
    const reason = 'SKIPPED: no running engine to start a second one beside';
    console.error(reason);
    return t.skip(reason);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eg-de-'));
  const env = { ...process.env, EDGEGUARD_DOCKER_RUN: path.join(dir, 'run'), EDGEGUARD_DOCKER_DATA: path.join(dir, 'data') };
  t.after(async () => {
    await run('bash', [script, 'stop'], { env }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  await run('bash', [script, 'start'], { env, timeout: 90_000 });
  const second = await getJson(path.join(dir, 'run', 'docker.sock'), '/info');
  assert.notEqual(second.ID, first.ID);
  assert.equal(second.DockerRootDir, path.join(dir, 'data', 'docker'));
  assert.match((await run('bash', [script, 'status'], { env })).stdout, /private engine of docker-env\.sh/);
  await run('bash', [script, 'stop'], { env, timeout: 90_000 });
  await assert.rejects(getJson(path.join(dir, 'run', 'docker.sock'), '/_ping'));
  const still = await getJson(testDockerSocket(), '/info');
  assert.equal(still.ID, first.ID, 'the other daemon still answers');
});
