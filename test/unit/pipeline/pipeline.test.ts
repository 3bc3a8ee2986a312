import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createEvent, type SecurityEvent } from '../../../src/core/event';
import { openPipeline, type DetailedPipelineStats, RETRY_BASE_MS, SEND_TIMEOUT_MS } from '../../../src/pipeline/pipeline';
import type { EventPipeline } from '../../../src/pipeline/types';
import { StdoutTransport } from '../../../src/upstream/stdout-transport';
import { AGENT, CapturingLogger, config, FakeClock, login, processCreate, RecordingTransport, tempDir, validator } from './helpers';

const FAST = { highPriorityMessageFrequency: 'PT5S', lowPriorityMessageFrequency: 'PT10S', snapshotFrequency: 'PT1M' };

async function open(t: { after(fn: () => void): void }, overrides: Record<string, string | number | boolean> = {}, stateDir = tempDir(t)) {
  const clock = new FakeClock();
  const transport = new RecordingTransport(Number(overrides.maxMessageSizeInBytes ?? 204_800));
  const log = new CapturingLogger();
  const pipeline = await openPipeline({ ...AGENT, stateDir, transport, clock, log }, config({ ...FAST, ...overrides }));
  t.after(() => pipeline.close(100));
  return { clock, transport, log, pipeline, stateDir };
}

const detailed = (p: EventPipeline): DetailedPipelineStats => p.stats() as DetailedPipelineStats;

test('urgent events go to High at the next high-priority send, others wait for the low one', async (t) => {
  const { clock, transport, pipeline } = await open(t, { aggregationEnabledProcessCreate: false });
  pipeline.start();
  pipeline.ingest(processCreate(clock, '/bin/sh -c reboot', 10), { urgent: true });
  pipeline.ingest(processCreate(clock, '/bin/ls', 11));
  assert.equal(pipeline.stats().queued.High.events, 1);
  assert.equal(pipeline.stats().queued.Low.events, 1);
  await clock.advance(5_000);
  assert.equal(transport.messages.length, 1);
  assert.equal(transport.messages[0]!.priority, 'High');
  // The Low event fills the High message ("then fills with the other priority").
  assert.deepEqual(
    transport.events().map((e) => e.Payload[0]!.CommandLine),
    ['/bin/sh -c reboot', '/bin/ls'],
  );
  assert.equal(pipeline.stats().queued.Low.events, 0);
});

test('a type whose priority is Off is filtered, not dropped, and urgency does not revive it', async (t) => {
  const { clock, transport, pipeline } = await open(t, { eventPriorityLogin: 'Off' });
  pipeline.start();
  pipeline.ingest(login(clock, 'alice'));
  pipeline.ingest(login(clock, 'bob'), { urgent: true });
  await pipeline.flush();
  assert.equal(transport.messages.length, 0);
  const s = detailed(pipeline);
  assert.equal(s.filtered, 2);
  assert.equal(s.ingested, 2);
  assert.deepEqual(s.dropped, { High: 0, Low: 0, Operational: 0 });
});

test('Operational events go to the Operational queue and lead the next message', async (t) => {
  const { clock, transport, pipeline } = await open(t);
  pipeline.start();
  pipeline.ingest(login(clock, 'alice'));
  pipeline.ingest(
    createEvent('ConfigurationError', 'Triggered', [{ ConfigurationName: 'maxMessageSizeInBytes', ErrorType: 'NotOptimal', UsedConfiguration: '10000', Message: 'not a multiple of 4096' }], {
      eventType: 'Operational',
      now: new Date(clock.now()),
    }),
  );
  assert.equal(pipeline.stats().queued.Operational.events, 1);
  await clock.advance(5_000);
  const events = transport.events();
  assert.deepEqual(events.map((e) => e.Name), ['ConfigurationError', 'Login']);
});

test('a rejected send keeps every event, backs off, then delivers them all once edgeHub is back', async (t) => {
  const { clock, transport, pipeline } = await open(t);
  transport.failing = true;
  pipeline.start();
  for (let i = 0; i < 20; i++) pipeline.ingest(login(clock, `user${i}`));
  await clock.advance(5_000);
  assert.equal(transport.attempts, 1);
  assert.match(pipeline.stats().lastSendError ?? '', /unreachable/);
  assert.equal(pipeline.stats().queued.High.events, 20);
  // Backoff: 1 s, 2 s, 4 s ... — a few attempts in 10 s, not a tight loop.
  await clock.advance(10_000);
  assert.ok(transport.attempts >= 3 && transport.attempts <= 6, `attempts ${transport.attempts}`);
  transport.failing = false;
  await clock.advance(20_000);
  const users = transport.events().filter((e) => e.Name === 'Login').map((e) => e.Payload[0]!.UserName);
  assert.deepEqual(users, Array.from({ length: 20 }, (_, i) => `user${i}`));
  assert.equal(pipeline.stats().queued.High.events, 0);
  assert.ok(detailed(pipeline).failedSends >= 3);
});

test('resume() after a reconnect sends at once instead of waiting out the backoff', async (t) => {
  const { clock, transport, pipeline } = await open(t);
  transport.failing = true;
  pipeline.start();
  pipeline.ingest(login(clock, 'before'));
  await clock.advance(40_000); // several failures: the next retry is tens of seconds away
  const attempts = transport.attempts;
  assert.ok(attempts >= 4, `attempts ${attempts}`);
  transport.failing = false;
  await clock.advance(1_000);
  assert.equal(transport.events().length, 0, 'still backing off');
  pipeline.resume();
  await clock.advance(0);
  assert.deepEqual(transport.events().filter((e) => e.Name === 'Login').map((e) => e.Payload[0]!.UserName), ['before']);
  pipeline.resume(); // nothing pending: no send
  await clock.advance(0);
  assert.equal(transport.attempts, attempts + 1);
});

test('secrets on command lines are removed before queueing (and kept when redactCommandLineSecrets is off)', async (t) => {
  const { clock, transport, pipeline } = await open(t, { aggregationIntervalProcessCreate: 'PT20S' });
  pipeline.start();
  pipeline.ingest(processCreate(clock, 'mysql -pTopSecret1 db', 7));
  pipeline.ingest(processCreate(clock, 'mysql -pTopSecret2 db', 8));
  await clock.advance(60_000);
  const sent = transport.events().filter((e) => e.Name === 'ProcessCreate');
  assert.equal(sent.length, 1, 'different secrets, same redacted command: one aggregated event');
  assert.equal(sent[0]!.Payload[0]!.CommandLine, 'mysql -p*** db');
  assert.equal(sent[0]!.Payload[0]!.ExtraDetails!.HitCount, '2');
  assert.ok(!transport.messages.some((m) => m.body.includes('TopSecret')), 'no message carries the secret');

  const off = await open(t, { redactCommandLineSecrets: false, aggregationEnabledProcessCreate: false });
  off.pipeline.start();
  off.pipeline.ingest(processCreate(off.clock, 'mysql -pVisible db', 9));
  await off.clock.advance(60_000);
  assert.equal(off.transport.events().find((e) => e.Name === 'ProcessCreate')?.Payload[0]!.CommandLine, 'mysql -pVisible db');
});

test('identical ProcessCreate events reach the cloud as one Aggregated event when the window closes', async (t) => {
  const { clock, transport, pipeline } = await open(t, { aggregationIntervalProcessCreate: 'PT20S' });
  pipeline.start();
  for (let i = 0; i < 100; i++) {
    pipeline.ingest(processCreate(clock, '/usr/bin/curl -s http://127.0.0.1/health', 1000 + i));
    await clock.advance(100);
  }
  pipeline.ingest(processCreate(clock, '/bin/date', 5));
  assert.equal(detailed(pipeline).aggregating, 101);
  assert.equal(transport.events().filter((e) => e.Name === 'ProcessCreate').length, 0);
  await clock.advance(30_000);
  const pcs = transport.events().filter((e) => e.Name === 'ProcessCreate');
  assert.equal(pcs.length, 2);
  const agg = pcs.find((e) => e.Category === 'Aggregated')!;
  assert.equal(agg.Payload[0]!.ExtraDetails!.HitCount, '100');
  assert.equal(agg.Payload[0]!.ProcessId, 0);
  const single = pcs.find((e) => e.Category === 'Triggered')!;
  assert.equal(single.Payload[0]!.CommandLine, '/bin/date');
  assert.equal(pipeline.stats().ingested, 101);
});

test('a queue holding a full message is sent at once, and no message exceeds maxMessageSizeInBytes', async (t) => {
  const { clock, transport, pipeline } = await open(t, { maxMessageSizeInBytes: 8192, highPriorityMessageFrequency: 'PT1H', lowPriorityMessageFrequency: 'PT2H' });
  pipeline.start();
  let n = 0;
  while (transport.messages.length === 0 && n < 200) {
    pipeline.ingest(login(clock, `user-${n++}`));
    await clock.advance(1);
  }
  assert.ok(transport.messages.length >= 1, 'a full queue was sent before its frequency elapsed');
  assert.ok(n < 200);
  for (const m of transport.messages) assert.ok(Buffer.byteLength(m.body) <= 8192);
});

test('low-priority sends carry DroppedEventsStatistics and MessageStatistics when there is something to report', async (t) => {
  const { clock, transport, pipeline } = await open(t, { maxLocalCacheSizeInBytes: 8192, eventPriorityLogin: 'Low' });
  pipeline.start();
  for (let i = 0; i < 40; i++) pipeline.ingest(login(clock, `u${i}`));
  const dropped = pipeline.stats().dropped.Low;
  assert.ok(dropped > 0, 'the 40% Low share of 8 KB cannot hold 40 logins');
  await clock.advance(10_000);
  const ops = transport.events().filter((e) => e.EventType === 'Operational');
  const drop = ops.find((e) => e.Name === 'DroppedEventsStatistics')!;
  assert.ok(drop, 'DroppedEventsStatistics sent');
  const low = drop.Payload.find((p) => p.Queue === 'Low')!;
  assert.equal(low.DroppedEvents, dropped);
  assert.equal(low.CollectedEvents, 40);
  assert.ok(ops.some((e) => e.Name === 'MessageStatistics'));
  for (const e of ops) assert.deepEqual(validator.validateEvent(e).errors, []);
  // Only native types here: the whole message passes the untouched official schema too.
  for (const m of transport.messages) assert.deepEqual(validator.validateMessageStrictOfficial(JSON.parse(m.body)).errors, []);
  // A quiet period produces no new statistics at the next low send.
  const before = transport.messages.length;
  await clock.advance(10_000);
  const after = transport.events().filter((e) => e.Name === 'DroppedEventsStatistics').length;
  assert.equal(after, 1);
  assert.ok(transport.messages.length - before <= 1);
});

test('events survive a restart: what the transport never accepted is sent by the next pipeline', async (t) => {
  const first = await open(t);
  first.transport.failing = true;
  first.pipeline.start();
  for (let i = 0; i < 5; i++) first.pipeline.ingest(login(first.clock, `before-restart-${i}`));
  first.pipeline.ingest(processCreate(first.clock, '/bin/true', 3));
  await first.pipeline.close(100);
  const second = await open(t, {}, first.stateDir);
  assert.equal(detailed(second.pipeline).recovered, 6);
  second.pipeline.start();
  await second.clock.advance(10_000);
  const names = second.transport.events().map((e) => (e.Name === 'Login' ? e.Payload[0]!.UserName : e.Payload[0]!.CommandLine));
  assert.deepEqual(names.sort(), ['/bin/true', ...Array.from({ length: 5 }, (_, i) => `before-restart-${i}`)].sort());
  // And acknowledged events are not sent again by a third.
  await second.pipeline.close(100);
  const third = await open(t, {}, first.stateDir);
  assert.equal(detailed(third.pipeline).recovered, 0);
});

test('live reconfiguration: frequencies reschedule, a smaller cache drops the oldest, a smaller message splits', async (t) => {
  const { clock, transport, pipeline } = await open(t, { highPriorityMessageFrequency: 'PT1H', lowPriorityMessageFrequency: 'PT5H' });
  pipeline.start();
  pipeline.ingest(login(clock, 'early'));
  await clock.advance(10_000);
  assert.equal(transport.messages.length, 0);
  pipeline.applyConfig(config({ highPriorityMessageFrequency: 'PT15S', lowPriorityMessageFrequency: 'PT5H' }));
  await clock.advance(4_999);
  assert.equal(transport.messages.length, 0, 'the new period counts from the last tick (t=0), due at 15 s');
  await clock.advance(1);
  assert.equal(transport.messages.length, 1);

  // Shrinking the cache drops the oldest events of a queue, counted.
  for (let i = 0; i < 30; i++) pipeline.ingest(login(clock, `u${i}`));
  const queuedBefore = pipeline.stats().queued.High.events;
  pipeline.applyConfig(config({ highPriorityMessageFrequency: 'PT15S', maxLocalCacheSizeInBytes: 8192 }));
  const s = pipeline.stats();
  assert.ok(s.queued.High.bytes <= 4096);
  assert.equal(s.dropped.High, queuedBefore - s.queued.High.events);
  assert.ok(s.dropped.High > 0);

  // A snapshot event too large for a smaller message is split across several events.
  const ports = Array.from({ length: 150 }, (_, i) => ({ Protocol: 'tcp', LocalAddress: '127.0.0.1', LocalPort: String(10_000 + i), RemoteAddress: '0.0.0.0', RemotePort: '*' }));
  pipeline.applyConfig(config({ highPriorityMessageFrequency: 'PT15S', maxLocalCacheSizeInBytes: 200_000 }));
  pipeline.ingest(createEvent('ListeningPorts', 'Periodic', ports, { now: new Date(clock.now()) }));
  pipeline.applyConfig(config({ highPriorityMessageFrequency: 'PT15S', maxLocalCacheSizeInBytes: 200_000, maxMessageSizeInBytes: 8192 }));
  const t0 = transport.messages.length;
  await clock.advance(15_000);
  const sent = transport.messages.slice(t0);
  assert.ok(sent.length >= 2);
  for (const m of sent) assert.ok(Buffer.byteLength(m.body) <= 8192);
  const got = sent.flatMap((m) => (JSON.parse(m.body) as { Events: SecurityEvent[] }).Events).filter((e) => e.Name === 'ListeningPorts');
  assert.ok(got.length >= 2);
  assert.deepEqual(got.flatMap((e) => e.Payload.map((p) => p.LocalPort)), ports.map((p) => p.LocalPort));
});

test('ingest never throws: a malformed event is counted and logged', async (t) => {
  const { clock, pipeline, log } = await open(t);
  pipeline.ingest(null as unknown as SecurityEvent);
  const cyclic = login(clock, 'x');
  (cyclic.Payload[0] as Record<string, unknown>).self = cyclic;
  pipeline.ingest(cyclic);
  const s = detailed(pipeline);
  assert.equal(s.ingestErrors, 2);
  assert.equal(s.ingested, 2);
  assert.ok(log.warnings().some((w) => /could not be queued/.test(w)));
});

test('retries do not spin while edgeHub is down: full queues wait for the backoff', async (t) => {
  const { clock, transport, pipeline } = await open(t, { maxMessageSizeInBytes: 8192 });
  transport.failing = true;
  pipeline.start();
  for (let i = 0; i < 300; i++) pipeline.ingest(login(clock, `flood-${i}`));
  await clock.advance(RETRY_BASE_MS / 2);
  assert.ok(transport.attempts <= 2, `attempts ${transport.attempts}`);
});

test('an event ingested after close is counted and logged, not silently lost', async (t) => {
  const { clock, pipeline, log } = await open(t);
  await pipeline.close(100);
  pipeline.ingest(login(clock, 'late'));
  assert.equal(detailed(pipeline).ingestErrors, 1);
  assert.ok(log.warnings().some((w) => /could not be queued/.test(w)));
});

test('a send that never answers times out as a failure: events stay queued and go out on a later attempt', async (t) => {
  const { clock, transport, pipeline } = await open(t);
  let hang = true;
  const realSend = transport.send.bind(transport);
  transport.send = (m) => (hang ? new Promise<void>(() => undefined) : realSend(m));
  pipeline.start();
  pipeline.ingest(login(clock, 'patient'));
  await clock.advance(5_000 + SEND_TIMEOUT_MS);
  assert.match(pipeline.stats().lastSendError ?? '', /no answer/);
  assert.equal(pipeline.stats().queued.High.events, 1);
  hang = false;
  await clock.advance(RETRY_BASE_MS * 2);
  assert.deepEqual(transport.events().filter((e) => e.Name === 'Login').map((e) => e.Payload[0]!.UserName), ['patient']);
  assert.equal(pipeline.stats().queued.High.events, 0);
});

test('standalone: with the stdout transport each message is one schema-valid JSON line', async (t) => {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const clock = new FakeClock();
  const pipeline = await openPipeline({ ...AGENT, stateDir: tempDir(t), transport: new StdoutTransport(stream), clock, log: new CapturingLogger() }, config(FAST));
  pipeline.ingest(login(clock, 'ünïcode-user'));
  for (let i = 0; i < 3; i++) pipeline.ingest(processCreate(clock, '/bin/echo ☃', 10 + i));
  await pipeline.close(1000);
  const lines = Buffer.concat(chunks).toString('utf8').split('\n');
  assert.equal(lines.pop(), '');
  assert.ok(lines.length >= 1);
  const events = lines.flatMap((l) => {
    const m = JSON.parse(l) as { Events: SecurityEvent[] };
    assert.deepEqual(validator.validateMessage(m).errors, []);
    return m.Events;
  });
  assert.deepEqual(events.map((e) => `${e.Name}/${e.Category}`).sort(), ['Login/Triggered', 'ProcessCreate/Aggregated']);
});
