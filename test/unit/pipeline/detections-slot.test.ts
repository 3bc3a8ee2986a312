import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEvent, type SecurityEvent } from '../../../src/core/event';
import type { DetectionStageFactory } from '../../../src/pipeline/detections-slot';
import { openPipeline, type DetailedPipelineStats } from '../../../src/pipeline/pipeline';
import { AGENT, CapturingLogger, config, FakeClock, login, processCreate, RecordingTransport, tempDir } from './helpers';

const FAST = { highPriorityMessageFrequency: 'PT5S', lowPriorityMessageFrequency: 'PT10S', snapshotFrequency: 'PT1M' };

async function open(t: { after(fn: () => void): void }, detections: DetectionStageFactory | undefined, overrides: Record<string, string | boolean> = {}) {
  const clock = new FakeClock();
  const transport = new RecordingTransport(204_800);
  const log = new CapturingLogger();
  const pipeline = await openPipeline({ ...AGENT, stateDir: tempDir(t), transport, clock, log, ...(detections ? { detections } : {}) }, config({ ...FAST, ...overrides }));
  t.after(() => pipeline.close(100));
  return { clock, transport, log, pipeline };
}

test('the detections slot sees every raw event after redaction, Off ones included, before aggregation', async (t) => {
  const seen: SecurityEvent[] = [];
  const { clock, pipeline, transport } = await open(t, () => (event) => seen.push(event), { eventPriorityLogin: 'Off' });
  pipeline.start();
  pipeline.ingest(processCreate(clock, 'mysql -u root --password=hunter2', 10));
  pipeline.ingest(processCreate(clock, 'mysql -u root --password=hunter2', 11));
  pipeline.ingest(login(clock, 'alice'));
  assert.deepEqual(seen.map((e) => e.Name), ['ProcessCreate', 'ProcessCreate', 'Login']);
  assert.ok(seen.every((e) => !JSON.stringify(e).includes('hunter2')), 'the stage sees redacted events');
  await clock.advance(3_600_000);
  // The two identical starts were aggregated after the stage saw both; the Off Login never left.
  const sent = transport.events();
  assert.deepEqual(sent.filter((e) => e.Name === 'ProcessCreate').map((e) => e.Category), ['Aggregated']);
  assert.equal(sent.filter((e) => e.Name === 'Login').length, 0);
});

test('an event the stage raises enters the chain after it (never inspected again) and is sent', async (t) => {
  const seen: string[] = [];
  const factory: DetectionStageFactory = (emit) => (event) => {
    seen.push(event.Name);
    if (event.Name === 'Login') emit(createEvent('ConfigurationError', 'Triggered', [{ ConfigurationName: 'x', ErrorType: 'Conflict', UsedConfiguration: 'x', Message: 'raised' }], { eventType: 'Operational' }), { urgent: true });
  };
  const { clock, pipeline, transport } = await open(t, factory);
  pipeline.start();
  pipeline.ingest(login(clock, 'bob'));
  assert.deepEqual(seen, ['Login']);
  assert.equal(pipeline.stats().queued.Operational.events, 1);
  await clock.advance(10_000);
  assert.deepEqual(transport.events().map((e) => e.Name).sort(), ['ConfigurationError', 'DroppedEventsStatistics', 'Login', 'MessageStatistics']);
});

test('a failing detections stage never loses the event: counted, logged, the event goes on', async (t) => {
  const { clock, pipeline, log } = await open(t, () => () => {
    throw new Error('rule engine bug');
  });
  pipeline.ingest(login(clock, 'carol'));
  const stats = pipeline.stats() as DetailedPipelineStats;
  assert.equal(stats.detectionErrors, 1);
  assert.equal(stats.queued.High.events, 1);
  assert.ok(log.warnings().some((m) => m.includes('detections stage failed')));
});

test('no detections stage by default', async (t) => {
  const { clock, pipeline } = await open(t, undefined);
  pipeline.ingest(login(clock, 'dave'));
  assert.equal((pipeline.stats() as DetailedPipelineStats).detectionErrors, 0);
  assert.equal(pipeline.stats().queued.High.events, 1);
});

test('an urgent raised event (an alert) goes to the High queue and is sent at once, not at highPriorityMessageFrequency', async (t) => {
  const factory: DetectionStageFactory = (emit) => (event) => {
    if (event.Name === 'Login') emit(createEvent('KernelModuleLoad', 'Triggered', [{ Name: 'raised', Size: 1, UsedBy: '', State: 'Live' }]), { urgent: true });
  };
  const { clock, pipeline, transport } = await open(t, factory, { highPriorityMessageFrequency: 'PT7M', eventPriorityKernelModuleLoad: 'Low' });
  pipeline.start();
  await clock.advance(1_000);
  const before = transport.events().length;
  pipeline.ingest(login(clock, 'carol'));
  await clock.advance(100);
  const sent = transport.events().slice(before).map((e) => e.Name);
  assert.ok(sent.includes('KernelModuleLoad'), `sent within 100 ms: ${sent.join(', ')}`);
});
