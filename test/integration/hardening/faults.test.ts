import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { reportedSourceStatus } from '../../harness/reported-status';
import { standaloneEnvironment } from '../../harness/standalone-agent';

const CHILD = path.join(__dirname, 'faulty-agent-child.js');

function runChild(t: { after(fn: () => void): void }, mode: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-faults-'));
  // In `agent` mode nothing is sent on schedule before the fault: only the flush can print the queued event.
  const every = mode === 'agent' ? 'PT1H' : 'PT1S';
  writeFileSync(path.join(dir, 'edgeguard.yaml'), `highPriorityMessageFrequency: ${every}\nlowPriorityMessageFrequency: ${every}\nsnapshotFrequency: PT1M\n`);
  const child = spawn(process.execPath, [CHILD, mode], { env: standaloneEnvironment(dir), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const waitFor = async (what: string, predicate: () => boolean, ms = 20_000) => {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { dir, child, exited, waitFor, output: () => out };
}

// Issue 11 item 12: on 7dab6b0 an uncaught exception was logged and ignored; the source stayed "running".
test('a source whose callback throws is marked failed and restarted with backoff; the agent keeps running', { timeout: 60_000 }, async (t) => {
  const run = runChild(t, 'source');
  await run.waitFor('the first crash', () => /source crashed/.test(run.output()));
  const faulty = (): ReturnType<typeof reportedSourceStatus> => reportedSourceStatus(path.join(run.dir, 'state'), 'Faulty');
  await run.waitFor('Faulty failed in reported.json', () => /^crashed: faulty source bug 1/.test(faulty()?.reason ?? ''));
  await run.waitFor('the third start (after two crashes, backoff 1 s then 2 s)', () => run.output().includes('faulty source start 3'));
  await run.waitFor('Faulty running again in reported.json', () => faulty()?.state === 'running');
  assert.equal(run.child.exitCode, null, 'the agent is still running');
  assert.match(run.output(), /crashes=2/);
  run.child.kill('SIGTERM');
  assert.equal(await run.exited, 0);
});

test('an exception outside any source flushes the queues and exits 1', { timeout: 60_000 }, async (t) => {
  const run = runChild(t, 'agent');
  await run.waitFor('the agent running', () => run.output().includes('EdgeGuard running'));
  assert.doesNotMatch(run.output(), /faulty source start 1/, 'nothing sent before the fault');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([run.exited, new Promise<'running'>((r) => (timer = setTimeout(() => r('running'), 20_000)))]);
  clearTimeout(timer);
  assert.equal(code, 1, `exit code (the agent must not carry on):\n${run.output().slice(-2000)}`);
  assert.match(run.output(), /uncaught exception: flushing the queues and exiting/);
  assert.match(run.output(), /faulty source start 1/, 'the queued event was flushed before exiting');
});
