import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EVENT_TYPES } from '../../../../src/agent/event-registry';
import { createEvent, type PayloadItem, type SecurityEvent } from '../../../../src/core/event';
import { aggregationRules, Aggregator } from '../../../../src/pipeline/aggregation/aggregator';
import type { HitUpdate, PersistedWindow, WindowStore } from '../../../../src/pipeline/aggregation/window-store';
import { openPipeline } from '../../../../src/pipeline/pipeline';
import { AGENT, CapturingLogger, config, FakeClock, processCreate, RecordingTransport, tempDir, validator } from '../helpers';

const WINDOWS = { aggregationIntervalProcessCreate: 'PT1M', aggregationIntervalConnectionCreate: 'PT1M', aggregationIntervalProcessTerminate: 'PT1M' };

function setup(store?: WindowStore) {
  const clock = new FakeClock();
  const out: SecurityEvent[] = [];
  const log = new CapturingLogger();
  const agg = new Aggregator({ clock, rules: aggregationRules(EVENT_TYPES), emit: (e) => out.push(e), log, ...(store ? { store } : {}) });
  agg.configure(config(WINDOWS));
  return { clock, out, agg, log };
}

const assertValid = (events: SecurityEvent[]) => {
  assert.ok(events.length > 0);
  for (const e of events) assert.deepEqual(validator.validateEvent(e).errors, [], JSON.stringify(e));
};

/** Exec-time context as the /proc and eBPF sources add it: the same job started three different ways. */
const CONTEXTS: Record<string, string>[] = [
  { ParentExecutable: '/bin/sh', ParentCommandLine: '/bin/sh -c backup', AncestorExecutables: '/bin/sh,/usr/sbin/cron,/sbin/init', Cwd: '/', StdinType: 'null', StdoutType: 'pipe', ContainerId: 'a'.repeat(64), CgroupId: '11' },
  { ParentExecutable: '/bin/sh', ParentCommandLine: '-bash', AncestorExecutables: '/bin/sh,/usr/sbin/sshd,/sbin/init', Cwd: '/home/edge', Tty: 'pts/1', StdinType: 'tty', StdoutType: 'tty', ContainerId: 'a'.repeat(64), CgroupId: '12' },
  { ParentExecutable: '/bin/sh', ParentCommandLine: 'bash loop.sh', AncestorExecutables: '/bin/sh,/usr/sbin/sshd,/sbin/init', Cwd: '/tmp', Tty: 'pts/4', StdinType: 'tty', StdoutType: 'file', ContainerId: 'a'.repeat(64), CgroupId: '13' },
];

test('ProcessCreate differing only in exec-time context collapse into one Aggregated event carrying the shared context', async () => {
  const { clock, out, agg } = setup();
  CONTEXTS.forEach((ctx, n) => agg.ingest(processCreate(clock, '/bin/sh -c backup', 100 + n, { ParentProcessId: 50 + n, ExtraDetails: { EffectiveUserId: '0', ...ctx } })));
  // A detail that is part of the key still makes its own entry.
  agg.ingest(processCreate(clock, '/bin/sh -c backup', 200, { ExtraDetails: { EffectiveUserId: '1000', ...CONTEXTS[0] } }));
  assert.equal(agg.stats().pendingKeys, 2);
  await clock.advance(60_000);
  assert.equal(out.length, 2);
  assertValid(out);
  const aggregated = out.filter((e) => e.Category === 'Aggregated');
  assert.equal(aggregated.length, 1);
  const details = aggregated[0]!.Payload[0]!.ExtraDetails!;
  assert.equal(details.HitCount, '3');
  assert.equal(details.EffectiveUserId, '0');
  // Same in every hit: carried. Different (or missing in some): dropped.
  assert.equal(details.ParentExecutable, '/bin/sh');
  assert.equal(details.ContainerId, 'a'.repeat(64));
  for (const k of ['ParentCommandLine', 'AncestorExecutables', 'Cwd', 'Tty', 'StdinType', 'StdoutType', 'CgroupId']) assert.equal(details[k], undefined, k);
  assert.deepEqual(Object.keys(details).sort(), ['ContainerId', 'EffectiveUserId', 'EndTimeLocal', 'EndTimeUtc', 'HitCount', 'ParentExecutable', 'StartTimeLocal', 'StartTimeUtc']);
  // The single-hit key goes out as the raw event, context intact.
  const single = out.find((e) => e.Category === 'Triggered')!;
  assert.equal(single.Payload[0]!.ExtraDetails!.Cwd, '/');
});

test('ProcessTerminate and ConnectionCreate: container context does not split windows, key details (signal, Result) still do', async () => {
  const { clock, out, agg } = setup();
  const conn = (item: PayloadItem) =>
    createEvent('ConnectionCreate', 'Triggered', [{ ProcessId: 42, UserId: '0', Executable: '/usr/bin/curl', CommandLine: 'curl http://10.0.0.1/', LocalAddress: '10.0.0.2', LocalPort: '40000', RemoteAddress: '10.0.0.1', RemotePort: '80', Direction: 'Out', Protocol: 'TCP', ...item }], { now: new Date(clock.now()) });
  const term = (pid: number, extra: Record<string, string>) => createEvent('ProcessTerminate', 'Triggered', [{ Executable: '/bin/true', ProcessId: pid, ExitStatus: 0, ExtraDetails: extra }], { now: new Date(clock.now()) });
  agg.ingest(conn({ LocalPort: '40001', ExtraDetails: { ContainerId: 'a'.repeat(64), ContainerName: 'modA', CgroupId: '1' } }));
  agg.ingest(conn({ LocalPort: '40002', ExtraDetails: { ContainerId: 'b'.repeat(64), ContainerName: 'modB', CgroupId: '2' } }));
  agg.ingest(conn({ LocalPort: '40003', ExtraDetails: { Result: 'ECONNREFUSED', ContainerId: 'a'.repeat(64) } }));
  agg.ingest(term(1, { ContainerName: 'modA' }));
  agg.ingest(term(2, { ContainerName: 'modB' }));
  agg.ingest(term(3, { TerminationSignal: 'SIGKILL', ContainerName: 'modA' }));
  await clock.advance(60_000);
  assertValid(out);
  const byType = (name: string, category: string) => out.filter((e) => e.Name === name && e.Category === category);
  assert.equal(byType('ConnectionCreate', 'Aggregated').length, 1);
  assert.equal(byType('ConnectionCreate', 'Triggered').length, 1, 'a different Result is a different event');
  assert.deepEqual(Object.keys(byType('ConnectionCreate', 'Aggregated')[0]!.Payload[0]!.ExtraDetails!).filter((k) => !/Time|HitCount/.test(k)), []);
  assert.equal(byType('ProcessTerminate', 'Aggregated').length, 1);
  assert.equal(byType('ProcessTerminate', 'Aggregated')[0]!.Payload[0]!.ExtraDetails!.HitCount, '2');
  assert.equal(byType('ProcessTerminate', 'Aggregated')[0]!.Payload[0]!.ExtraDetails!.ContainerName, undefined);
  assert.equal(byType('ProcessTerminate', 'Triggered')[0]!.Payload[0]!.ExtraDetails!.TerminationSignal, 'SIGKILL');
});

test('the detections stage sees each raw event with its own context; upstream gets one Aggregated event that validates', async (t) => {
  const clock = new FakeClock();
  const transport = new RecordingTransport(204_800);
  const seen: SecurityEvent[] = [];
  const pipeline = await openPipeline(
    { ...AGENT, stateDir: tempDir(t), transport, clock, log: new CapturingLogger(), detections: () => (event) => seen.push(event) },
    config({ highPriorityMessageFrequency: 'PT5S', lowPriorityMessageFrequency: 'PT10S', snapshotFrequency: 'PT1M' }),
  );
  t.after(() => pipeline.close(100));
  pipeline.start();
  CONTEXTS.forEach((ctx, n) => pipeline.ingest(processCreate(clock, '/usr/bin/python3 job.py', 300 + n, { ExtraDetails: { ...ctx } })));
  assert.deepEqual(seen.map((e) => e.Payload[0]!.ExtraDetails), CONTEXTS, 'every raw event reaches the stage with its context unchanged');
  await clock.advance(3_600_000);
  const sent = transport.events().filter((e) => e.Name === 'ProcessCreate');
  assert.deepEqual(sent.map((e) => e.Category), ['Aggregated']);
  assert.equal(sent[0]!.Payload[0]!.ExtraDetails!.HitCount, '3');
  assertValid(sent);
});

class MemoryStore implements WindowStore {
  readonly records = new Map<number, PersistedWindow>();
  private next = 1;
  open(json: string): number {
    const seq = this.next++;
    this.records.set(seq, { seq, json });
    return seq;
  }
  hits(updates: readonly HitUpdate[]): void {
    for (const u of updates) {
      const r = this.records.get(u[0]);
      if (r) r.hits = u;
    }
  }
  close(ids: readonly number[]): void {
    for (const id of ids) this.records.delete(id);
  }
}

test('after a crash, context narrowed by hits counted after the entry was written is not claimed: only key details survive', async () => {
  const store = new MemoryStore();
  const before = setup(store);
  before.agg.ingest(processCreate(before.clock, '/bin/sh -c backup', 1, { ExtraDetails: { EffectiveUserId: '0', Cwd: '/', ParentExecutable: '/bin/sh' } }));
  before.agg.ingest(processCreate(before.clock, '/bin/sh -c backup', 2, { ExtraDetails: { EffectiveUserId: '0', Cwd: '/tmp', ParentExecutable: '/bin/sh' } }));
  before.agg.checkpoint();
  // "Crash": a new aggregator takes the journal's records.
  const after = setup(store);
  assert.equal(after.agg.restore([...store.records.values()]), 2);
  after.agg.closeAll();
  assertValid(after.out);
  const details = after.out[0]!.Payload[0]!.ExtraDetails!;
  assert.equal(details.HitCount, '2');
  assert.equal(details.EffectiveUserId, '0');
  assert.equal(details.Cwd, undefined);
  assert.equal(details.ParentExecutable, undefined, 'not known to be shared: the checkpoint only carries counts');
});

test('hostile journal entries: a malformed shared-context record is skipped with a warning, an entry from before this format is accepted', async () => {
  const first = processCreate(new FakeClock(), '/bin/sh -c x', 1, { ExtraDetails: { Cwd: '/' } });
  const base = { name: 'ProcessCreate', openedAt: 0, count: 2, startUtc: first.TimestampUTC, startLocal: first.TimestampLocal, endUtc: first.TimestampUTC, endLocal: first.TimestampLocal, first };
  const { agg, out, log } = setup();
  const restored = agg.restore([
    { seq: 1, json: JSON.stringify({ ...base, shared: { Cwd: { nested: 1 } } }) },
    { seq: 2, json: JSON.stringify({ ...base, shared: ['Cwd'] }) },
    { seq: 3, json: JSON.stringify(base) },
  ]);
  assert.equal(restored, 2);
  assert.equal(log.warnings().filter((m) => m.includes('unreadable aggregation entry')).length, 2);
  agg.closeAll();
  assert.equal(out.length, 1);
  assert.equal(out[0]!.Payload[0]!.ExtraDetails!.Cwd, '/', 'old entries held identical details');
});
