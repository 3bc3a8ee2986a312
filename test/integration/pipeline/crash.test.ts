import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { openPipeline, type DetailedPipelineStats } from '../../../src/pipeline/pipeline';
import { AGENT, CapturingLogger, config, FakeClock, RecordingTransport, tempDir } from '../../unit/pipeline/helpers';

/** Starts the child pipeline, waits for "ingested", waits `settleMs`, sends `signal`, resolves on exit. */
function runChild(stateDir: string, logins: number, processes: number, settleMs: number, signal: NodeJS.Signals): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'crash-child.js'), stateDir, String(logins), String(processes)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let signalled = false;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!signalled && out.includes('ingested\n')) {
        signalled = true;
        setTimeout(() => child.kill(signal), settleMs);
      }
    });
    child.once('error', reject);
    child.once('exit', () => resolve(out));
    setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not finish: ${out}`));
    }, 20_000).unref();
  });
}

async function reopen(stateDir: string) {
  const transport = new RecordingTransport();
  const pipeline = await openPipeline({ ...AGENT, stateDir, transport, clock: new FakeClock(), log: new CapturingLogger() }, config());
  const stats = pipeline.stats() as DetailedPipelineStats;
  await pipeline.close(1000);
  return { transport, stats };
}

test('kill -9 after the journal delay: every queued event and every open aggregation key comes back', async (t) => {
  const dir = tempDir(t);
  await runChild(dir, 500, 40, 1500, 'SIGKILL');
  const { transport, stats } = await reopen(dir);
  assert.equal(stats.recovered, 500);
  assert.equal(stats.recoveredHits, 1, 'the key survives; its hit count is checkpointed every 30 s, so only the first hit is on disk');
  const events = transport.events();
  assert.deepEqual(
    events.filter((e) => e.Name === 'Login').map((e) => e.Payload[0]!.UserName),
    Array.from({ length: 500 }, (_, i) => `crash-${i}`),
  );
  assert.equal(events.filter((e) => e.Name === 'ProcessCreate').length, 1);
});

test('SIGTERM while edgeHub is down: close() journals everything, aggregated, and the next run sends it', async (t) => {
  const dir = tempDir(t);
  const out = await runChild(dir, 300, 40, 0, 'SIGTERM');
  assert.match(out, /closed/);
  const { transport, stats } = await reopen(dir);
  // The window was closed by close(): its 40 hits are one queued Aggregated event now.
  assert.equal(stats.recovered, 301);
  assert.equal(stats.recoveredHits, 0);
  const events = transport.events();
  assert.equal(events.filter((e) => e.Name === 'Login').length, 300);
  const agg = events.filter((e) => e.Name === 'ProcessCreate');
  assert.equal(agg.length, 1);
  assert.equal(agg[0]!.Payload[0]!.ExtraDetails!.HitCount, '40');
});
