import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEvent, type PayloadItem, type SecurityEvent } from '../../../../src/core/event';
import { aggregationRules, Aggregator } from '../../../../src/pipeline/aggregation/aggregator';
import { config, FakeClock, processCreate, validator } from '../helpers';
import { EVENT_TYPES } from '../../../../src/agent/event-registry';

function setup(overrides: Record<string, string | boolean> = {}, maxKeysPerWindow?: number) {
  const clock = new FakeClock();
  const out: SecurityEvent[] = [];
  const agg = new Aggregator({ clock, rules: aggregationRules(EVENT_TYPES), emit: (e) => out.push(e), ...(maxKeysPerWindow !== undefined ? { maxKeysPerWindow } : {}) });
  agg.configure(config({ aggregationIntervalProcessCreate: 'PT1M', aggregationIntervalConnectionCreate: 'PT1M', aggregationIntervalProcessTerminate: 'PT1M', ...overrides }));
  return { clock, out, agg };
}

function connection(clock: FakeClock, item: PayloadItem): SecurityEvent {
  return createEvent('ConnectionCreate', 'Triggered', [{ ProcessId: 42, UserId: '1000', Executable: '/usr/bin/curl', CommandLine: 'curl http://127.0.0.1:8080/', LocalAddress: '127.0.0.1', RemoteAddress: '127.0.0.1', Protocol: 'TCP', ...item }], {
    now: new Date(clock.now()),
  });
}

function terminate(clock: FakeClock, pid: number, exe: string, status: number, extra?: Record<string, string>): SecurityEvent {
  return createEvent('ProcessTerminate', 'Triggered', [{ Executable: exe, ProcessId: pid, ExitStatus: status, ...(extra ? { ExtraDetails: extra } : {}) }], { now: new Date(clock.now()) });
}

const assertValid = (events: SecurityEvent[]) => {
  for (const e of events) assert.deepEqual(validator.validateEvent(e).errors, [], JSON.stringify(e));
};

test('ProcessCreate: same executable, command line, user id and name collapse; pids are zeroed; times and HitCount in ExtraDetails', async () => {
  const { clock, out, agg } = setup();
  const first = processCreate(clock, '/bin/sh -c backup', 100, { ExtraDetails: { EffectiveUserId: '0' } });
  assert.equal(agg.ingest(first), true);
  await clock.advance(10_000);
  const last = processCreate(clock, '/bin/sh -c backup', 200, { ParentProcessId: 77, ExtraDetails: { EffectiveUserId: '0' } });
  agg.ingest(processCreate(clock, '/bin/sh -c backup', 150, { ExtraDetails: { EffectiveUserId: '0' } }));
  agg.ingest(last);
  // Each differing key field makes its own entry.
  agg.ingest(processCreate(clock, '/bin/sh -c restore', 101));
  agg.ingest(processCreate(clock, '/bin/sh -c backup', 102, { UserId: '1000' }));
  agg.ingest(processCreate(clock, '/bin/sh -c backup', 103, { UserName: 'admin' }));
  agg.ingest(processCreate(clock, '/bin/sh -c backup', 104)); // no EffectiveUserId detail: a different event
  assert.equal(out.length, 0, 'nothing leaves before the window closes');
  assert.equal(agg.stats().pendingHits, 7);
  await clock.advance(50_000);
  assert.equal(out.length, 5);
  assertValid(out);
  const aggregated = out.filter((e) => e.Category === 'Aggregated');
  assert.equal(aggregated.length, 1);
  const item = aggregated[0]!.Payload[0]!;
  assert.equal(item.ProcessId, 0);
  assert.equal(item.ParentProcessId, 0);
  assert.equal(item.CommandLine, '/bin/sh -c backup');
  assert.deepEqual(item.ExtraDetails, {
    EffectiveUserId: '0',
    StartTimeUtc: first.TimestampUTC,
    EndTimeUtc: last.TimestampUTC,
    StartTimeLocal: first.TimestampLocal,
    EndTimeLocal: last.TimestampLocal,
    HitCount: '3',
  });
  // Single hits go out unchanged, as the original Triggered event.
  const singles = out.filter((e) => e.Category === 'Triggered');
  assert.equal(singles.length, 4);
  assert.ok(singles.every((e) => e.Payload[0]!.ProcessId !== 0));
  assert.equal(agg.stats().pendingHits, 0);
});

test('ConnectionCreate: inbound keyed by local port, outbound by remote port; the ephemeral port is zeroed or left out', async () => {
  const { clock, out, agg } = setup();
  for (const rp of ['40001', '40002', '40003']) agg.ingest(connection(clock, { Direction: 'In', LocalPort: '22', RemotePort: rp, ProcessId: Number(rp) }));
  agg.ingest(connection(clock, { Direction: 'In', LocalPort: '2222', RemotePort: '40004' }));
  for (const lp of ['50001', '50002']) agg.ingest(connection(clock, { Direction: 'Out', LocalPort: lp, RemotePort: '443' }));
  agg.ingest(connection(clock, { Direction: 'Out', LocalPort: '50003', RemotePort: '8443' }));
  agg.ingest(connection(clock, { Direction: 'Out', LocalPort: '50004', RemotePort: '443', Protocol: 'UDP' }));
  agg.ingest(connection(clock, { Direction: 'Out', LocalPort: '50005', RemotePort: '443', RemoteAddress: '127.0.0.2' }));
  agg.ingest(connection(clock, { Direction: 'Out', LocalPort: '50006', RemotePort: '443', UserId: '0' }));
  await clock.advance(60_000);
  assertValid(out);
  const aggregated = out.filter((e) => e.Category === 'Aggregated').map((e) => e.Payload[0]!);
  assert.equal(aggregated.length, 2);
  const inbound = aggregated.find((p) => p.Direction === 'In')!;
  assert.equal(inbound.LocalPort, '22');
  assert.equal(inbound.RemotePort, '0');
  assert.equal(inbound.ProcessId, 0);
  assert.equal(inbound.ExtraDetails!.HitCount, '3');
  const outbound = aggregated.find((p) => p.Direction === 'Out')!;
  assert.equal(outbound.RemotePort, '443');
  assert.equal('LocalPort' in outbound, false);
  assert.equal(outbound.ExtraDetails!.HitCount, '2');
  assert.equal(out.filter((e) => e.Category === 'Triggered').length, 5);
});

test('ProcessTerminate: keyed by executable and exit status; signal details kept', async () => {
  const { clock, out, agg } = setup();
  for (let i = 0; i < 4; i++) agg.ingest(terminate(clock, 10 + i, '/usr/bin/worker', 137, { TerminationSignal: 'SIGKILL' }));
  agg.ingest(terminate(clock, 20, '/usr/bin/worker', 0));
  agg.ingest(terminate(clock, 21, '/usr/bin/other', 137, { TerminationSignal: 'SIGKILL' }));
  await clock.advance(60_000);
  assertValid(out);
  const aggregated = out.filter((e) => e.Category === 'Aggregated');
  assert.equal(aggregated.length, 1);
  assert.deepEqual(
    { ...aggregated[0]!.Payload[0]!, ExtraDetails: { TerminationSignal: aggregated[0]!.Payload[0]!.ExtraDetails!.TerminationSignal, HitCount: aggregated[0]!.Payload[0]!.ExtraDetails!.HitCount } },
    { Executable: '/usr/bin/worker', ProcessId: 0, ExitStatus: 137, ExtraDetails: { TerminationSignal: 'SIGKILL', HitCount: '4' } },
  );
  assert.equal(out.length, 3);
});

test('each type closes on its own interval', async () => {
  const { clock, out, agg } = setup({ aggregationIntervalProcessCreate: 'PT10S', aggregationIntervalProcessTerminate: 'PT30S' });
  agg.ingest(processCreate(clock, '/bin/a', 1));
  agg.ingest(terminate(clock, 1, '/bin/a', 0));
  await clock.advance(10_000);
  assert.deepEqual(out.map((e) => e.Name), ['ProcessCreate']);
  await clock.advance(20_000);
  assert.deepEqual(out.map((e) => e.Name), ['ProcessCreate', 'ProcessTerminate']);
});

test('a window that reaches its key limit closes early: every hit is emitted, none dropped', async () => {
  const { clock, out, agg } = setup({}, 3);
  for (let round = 0; round < 2; round++) for (let k = 0; k < 5; k++) agg.ingest(processCreate(clock, `/bin/cmd${k}`, 100 + k));
  await clock.advance(60_000);
  const hits = out.reduce((n, e) => n + (e.Category === 'Aggregated' ? Number(e.Payload[0]!.ExtraDetails!.HitCount) : 1), 0);
  assert.equal(hits, 10);
  assert.ok(agg.stats().earlyCloses >= 2);
  assert.ok(out.length > 5, 'early closes split some keys across windows');
  assertValid(out);
});

test('disabled or non-Triggered events pass through; disabling emits the open window; a longer interval reschedules it', async () => {
  const { clock, out, agg } = setup();
  agg.ingest(processCreate(clock, '/bin/a', 1));
  agg.ingest(processCreate(clock, '/bin/a', 2));
  assert.equal(agg.ingest(createEvent('ProcessCreate', 'Periodic', [], { now: new Date(clock.now()) })), false);
  agg.configure(config({ aggregationIntervalProcessCreate: 'PT5M' }));
  await clock.advance(60_000);
  assert.equal(out.length, 0, 'the window now lasts 5 minutes');
  agg.configure(config({ aggregationEnabledProcessCreate: false }));
  assert.equal(out.length, 1, 'disabling emits what was held');
  assert.equal(out[0]!.Payload[0]!.ExtraDetails!.HitCount, '2');
  assert.equal(agg.ingest(processCreate(clock, '/bin/a', 3)), false);
});

test('several payload items in one raw event are aggregated item by item', async () => {
  const { clock, out, agg } = setup();
  const item = (cmd: string, pid: number): PayloadItem => ({ Executable: '/bin/x', ProcessId: pid, ParentProcessId: 1, UserId: '0', CommandLine: cmd });
  agg.ingest(createEvent('ProcessCreate', 'Triggered', [item('/bin/x 1', 1), item('/bin/x 2', 2)], { now: new Date(clock.now()) }));
  agg.ingest(createEvent('ProcessCreate', 'Triggered', [item('/bin/x 1', 3)], { now: new Date(clock.now()) }));
  agg.closeAll();
  assert.equal(out.length, 2);
  const single = out.find((e) => e.Category === 'Triggered')!;
  assert.equal(single.Payload.length, 1);
  assert.equal(single.Payload[0]!.CommandLine, '/bin/x 2');
  assertValid(out);
});

test('a window whose keys hold too much text (long command lines) closes early too', async () => {
  const clock = new FakeClock();
  const out: SecurityEvent[] = [];
  const agg = new Aggregator({ clock, rules: aggregationRules(EVENT_TYPES), emit: (e) => out.push(e), maxKeyCharsPerWindow: 50_000 });
  agg.configure(config({ aggregationIntervalProcessCreate: 'PT1M' }));
  for (let k = 0; k < 10; k++) agg.ingest(processCreate(clock, `/bin/run ${String(k).repeat(16_000)}`, k + 1));
  assert.ok(out.length >= 6, `early closes emitted ${out.length} events before the interval`);
  assert.ok(agg.stats().pendingKeys <= 3);
  agg.closeAll();
  assert.equal(out.length, 10);
});
