import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openPipeline, type DetailedPipelineStats } from '../../../src/pipeline/pipeline';
import type { EventPipeline } from '../../../src/pipeline/types';
import { HIT_CHECKPOINT_MS } from '../../../src/pipeline/aggregation/aggregator';
import { AGENT, CapturingLogger, config, FakeClock, login, processCreate, RecordingTransport, tempDir } from './helpers';

/**
 * A crash is simulated by opening a second pipeline on the same state directory without closing the
 * first: whatever the first wrote through its journal timer is all the second can see.
 */

const SETTINGS = { highPriorityMessageFrequency: 'PT5S', lowPriorityMessageFrequency: 'PT10S', aggregationIntervalProcessCreate: 'PT1H' };

async function open(stateDir: string, t: { after(fn: () => void): void }) {
  const clock = new FakeClock();
  const transport = new RecordingTransport();
  const pipeline = await openPipeline({ ...AGENT, stateDir, transport, clock, log: new CapturingLogger() }, config(SETTINGS));
  t.after(() => pipeline.close(100));
  return { clock, transport, pipeline };
}

const detailed = (p: EventPipeline) => p.stats() as DetailedPipelineStats;

test('a crash loses no aggregated key: open windows come back from the journal and close on time', async (t) => {
  const dir = tempDir(t);
  const first = await open(dir, t);
  first.pipeline.start();
  for (let i = 0; i < 50; i++) first.pipeline.ingest(processCreate(first.clock, '/usr/bin/backup --all', 100 + i));
  first.pipeline.ingest(processCreate(first.clock, '/bin/once', 7));
  await first.clock.advance(HIT_CHECKPOINT_MS + 500);
  // Hits after the last checkpoint: their count may be lost on a crash, never the key.
  for (let i = 0; i < 10; i++) first.pipeline.ingest(processCreate(first.clock, '/usr/bin/backup --all', 200 + i));
  first.pipeline.ingest(processCreate(first.clock, '/bin/new-after-checkpoint', 8));
  await first.clock.advance(500);
  assert.equal(first.transport.events().filter((e) => e.Name === 'ProcessCreate').length, 0);

  const second = await open(dir, t);
  assert.equal(detailed(second.pipeline).recoveredHits, 52, '50 checkpointed hits + 2 single-hit keys');
  second.pipeline.start();
  await second.clock.advance(3_600_000);
  const pcs = second.transport.events().filter((e) => e.Name === 'ProcessCreate');
  assert.deepEqual(pcs.map((e) => e.Payload[0]!.CommandLine).sort(), ['/bin/new-after-checkpoint', '/bin/once', '/usr/bin/backup --all']);
  const agg = pcs.find((e) => e.Category === 'Aggregated')!;
  assert.equal(agg.Payload[0]!.ExtraDetails!.HitCount, '50');
  assert.equal(pcs.find((e) => e.Payload[0]!.CommandLine === '/bin/once')!.Category, 'Triggered');
});

test('a closed window is not replayed: its events are queued once, not twice', async (t) => {
  const dir = tempDir(t);
  const first = await open(dir, t);
  for (let i = 0; i < 5; i++) first.pipeline.ingest(processCreate(first.clock, '/bin/job', i + 1));
  await first.clock.advance(3_600_000 + 500);
  assert.equal(first.pipeline.stats().queued.Low.events, 1, 'one Aggregated event waits for the low-priority send (not started)');
  const second = await open(dir, t);
  assert.equal(detailed(second.pipeline).recoveredHits, 0);
  assert.equal(detailed(second.pipeline).recovered, 1);
  await second.pipeline.flush();
  const pcs = second.transport.events().filter((e) => e.Name === 'ProcessCreate');
  assert.equal(pcs.length, 1);
  assert.equal(pcs[0]!.Payload[0]!.ExtraDetails!.HitCount, '5');
});

test('journal compaction under traffic keeps open windows and queued events', async (t) => {
  const dir = tempDir(t);
  const first = await open(dir, t);
  first.pipeline.start();
  for (let i = 0; i < 30; i++) first.pipeline.ingest(processCreate(first.clock, `/bin/tool-${i % 3}`, i + 1));
  // ~2 MB of logins sent and acknowledged: enough to make the journal compact more than once.
  for (let round = 0; round < 30; round++) {
    for (let i = 0; i < 200; i++) first.pipeline.ingest(login(first.clock, `user-${round}-${i}-${'x'.repeat(100)}`));
    await first.clock.advance(5_000);
  }
  first.pipeline.ingest(login(first.clock, 'last-one'));
  await first.clock.advance(HIT_CHECKPOINT_MS);
  first.pipeline.ingest(login(first.clock, 'unsent'));
  await first.clock.advance(300);
  const queuesDir = path.join(dir, 'queues');
  const size = readdirSync(queuesDir).reduce((n, f) => n + statSync(path.join(queuesDir, f)).size, 0);
  assert.ok(size < 1_500_000, `journal ${size} bytes`);
  const second = await open(dir, t);
  assert.equal(detailed(second.pipeline).recoveredHits, 30);
  assert.equal(detailed(second.pipeline).recovered, 1);
  await second.pipeline.flush();
  const events = second.transport.events();
  assert.deepEqual(events.filter((e) => e.Name === 'Login').map((e) => e.Payload[0]!.UserName), ['unsent']);
  assert.deepEqual(
    events.filter((e) => e.Name === 'ProcessCreate').map((e) => e.Payload[0]!.ExtraDetails!.HitCount),
    ['10', '10', '10'],
  );
});
