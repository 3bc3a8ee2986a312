import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { defaultConfigView } from '../../../src/config/defaults';
import { type SettingValue } from '../../../src/config/settings';
import { createEvent, type SecurityEvent } from '../../../src/core/event';
import { getLogger } from '../../../src/core/logger';
import { snapshotMethod } from '../../../src/main';
import { SourceManager } from '../../../src/agent/source-manager';
import { SourceUnavailableError, type SourceContext, type SourceDefinition } from '../../../src/sources/source';
import { SYSTEM_INFORMATION } from '../../../src/sources/host/system-information';
import { settingsCatalogue } from '../../../src/agent/catalogue';
import { waitUntil } from '../../harness/wait-until';

/** A source that records its lifecycle; `behaviour` decides how start/snapshot/emit misbehave. */
class FakeSource {
  starts = 0;
  stops = 0;
  snapshots = 0;
  lastCtx?: SourceContext;
  readonly definition: SourceDefinition;

  constructor(
    name: string,
    private readonly behaviour: { start?: 'unavailable' | 'throw'; snapshot?: 'throw' | 'ok'; emitOnStart?: boolean } = {},
  ) {
    this.definition = {
      name,
      description: `fake ${name}`,
      events: [SYSTEM_INFORMATION],
      settings: [{ name: `fake${name}Interval`, type: 'duration', default: 'PT1M', description: 'test setting' }],
      start: async (ctx) => {
        this.starts++;
        this.lastCtx = ctx;
        if (this.behaviour.start === 'unavailable') throw new SourceUnavailableError('needs CAP_NET_ADMIN');
        if (this.behaviour.start === 'throw') throw new TypeError('boom');
        if (this.behaviour.emitOnStart) ctx.emit(createEvent('SystemInformation', 'Periodic', [{ OSName: name }]));
        const source = {
          stop: async () => {
            this.stops++;
          },
        };
        if (!this.behaviour.snapshot) return source;
        return {
          ...source,
          snapshot: async () => {
            this.snapshots++;
            if (this.behaviour.snapshot === 'throw') throw new Error('snapshot exploded');
            ctx.emit(createEvent('SystemInformation', 'Periodic', [{ OSName: name }]));
          },
        };
      },
    };
  }
}

function setup(t: { after(fn: () => void | Promise<void>): void }, fakes: FakeSource[], emitImpl?: (e: SecurityEvent) => void) {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-sm-'));
  const events: SecurityEvent[] = [];
  let statusChanges = 0;
  const definitions = fakes.map((f) => f.definition);
  const catalogue = settingsCatalogue(definitions);
  const manager = new SourceManager({
    sources: definitions,
    hostRoot: '/',
    stateDir,
    emit: emitImpl ?? ((e) => events.push(e)),
    log: getLogger('test/source-manager'),
    onStatusChange: () => statusChanges++,
  });
  const config = (overrides: Record<string, SettingValue> = {}) => defaultConfigView(catalogue, { snapshotFrequency: 'PT1H', ...overrides });
  t.after(async () => {
    await manager.stopAll();
    rmSync(stateDir, { recursive: true, force: true });
  });
  return { manager, events, config, stateDir, statusChanges: () => statusChanges };
}

test('a source that cannot start is reported failed; the others run', async (t) => {
  const good = new FakeSource('Good');
  const unavailable = new FakeSource('NoPrivilege', { start: 'unavailable' });
  const crashing = new FakeSource('Crashing', { start: 'throw' });
  const { manager, config, stateDir, statusChanges } = setup(t, [unavailable, crashing, good]);
  await manager.apply(config());
  const statuses = manager.statuses();
  assert.equal(statuses.Good!.state, 'running');
  assert.deepEqual([statuses.NoPrivilege!.state, statuses.NoPrivilege!.reason], ['failed', 'needs CAP_NET_ADMIN']);
  assert.equal(statuses.Crashing!.state, 'failed');
  assert.match(statuses.Crashing!.reason!, /^start failed: boom/);
  assert.ok(existsSync(path.join(stateDir, 'Good')), 'per-source state directory created');
  assert.equal(good.lastCtx!.stateDir, path.join(stateDir, 'Good'));
  assert.ok(statusChanges() >= 3);
  // An unrelated configuration change does not retry a failed start over and over.
  await manager.apply(config({ highPriorityMessageFrequency: 'PT1M' }));
  assert.equal(unavailable.starts, 1);
  // Its own settings changing does.
  await manager.apply(config({ fakeNoPrivilegeInterval: 'PT2M' }));
  assert.equal(unavailable.starts, 2);
});

test('collectorEnabled<Name> stops and starts the source', async (t) => {
  const fake = new FakeSource('Toggle');
  const { manager, config } = setup(t, [fake]);
  await manager.apply(config());
  assert.equal(fake.starts, 1);
  await manager.apply(config({ collectorEnabledToggle: false }));
  assert.equal(fake.stops, 1);
  assert.deepEqual(manager.statuses().Toggle!.state, 'disabled');
  assert.match(manager.statuses().Toggle!.reason!, /collectorEnabledToggle is false/);
  await manager.apply(config({ collectorEnabledToggle: false }));
  assert.equal(fake.stops, 1);
  await manager.apply(config({ collectorEnabledToggle: true }));
  assert.equal(fake.starts, 2);
  assert.equal(manager.statuses().Toggle!.state, 'running');
});

test('a source restarts when its own settings change, not when others do', async (t) => {
  const fake = new FakeSource('Restart');
  const other = new FakeSource('Other');
  const { manager, config } = setup(t, [fake, other]);
  await manager.apply(config());
  await manager.apply(config({ fakeOtherInterval: 'PT5M', lowPriorityMessageFrequency: 'PT1M' }));
  assert.deepEqual([fake.starts, fake.stops], [1, 0]);
  assert.deepEqual([other.starts, other.stops], [2, 1]);
  await manager.apply(config({ fakeOtherInterval: 'PT5M', fakeRestartInterval: 'PT10S' }));
  assert.deepEqual([fake.starts, fake.stops], [2, 1]);
  assert.equal(fake.lastCtx!.config.string('fakeRestartInterval'), 'PT10S');
});

test('snapshots: once after start, then every snapshotFrequency; a new frequency reschedules without restart', async (t) => {
  const fake = new FakeSource('Snap', { snapshot: 'ok' });
  const { manager, config, events } = setup(t, [fake]);
  await manager.apply(config({ snapshotFrequency: 'PT0.1S' }));
  await waitUntil(() => fake.snapshots >= 4);
  assert.ok(events.length >= 4);
  await manager.apply(config({ snapshotFrequency: 'PT1H' }));
  const settled = fake.snapshots;
  await new Promise((r) => setTimeout(r, 350));
  assert.ok(fake.snapshots <= settled + 1, `no more periodic snapshots after PT1H (${fake.snapshots} vs ${settled})`);
  assert.equal(fake.starts, 1, 'snapshot frequency does not restart the source');
});

test('snapshots on demand: every running snapshot source, or the named ones; unknown and stopped names are said', async (t) => {
  const a = new FakeSource('SnapA', { snapshot: 'ok' });
  const b = new FakeSource('SnapB', { snapshot: 'ok' });
  const plain = new FakeSource('NoSnap');
  const { manager, config } = setup(t, [a, b, plain]);
  await manager.apply(config({ collectorEnabledSnapB: false }));
  await waitUntil(() => a.snapshots === 1);
  assert.deepEqual(manager.snapshotNow(), { triggered: ['SnapA'], notRunning: [], unknown: [] });
  await waitUntil(() => a.snapshots === 2);
  assert.deepEqual(manager.snapshotNow(['SnapB', 'NoSnap', 'Nope']), { triggered: [], notRunning: ['SnapB', 'NoSnap'], unknown: ['Nope'] });
  assert.equal(b.snapshots, 0);
  const answer = snapshotMethod(manager, { sources: ['SnapA'] });
  assert.equal(answer.status, 200);
  await waitUntil(() => a.snapshots === 3);
  assert.equal(snapshotMethod(manager, { sources: ['Nope'] }).status, 400);
  assert.equal(snapshotMethod(manager, { sources: 'SnapA' }).status, 400, 'a malformed payload is refused');
  assert.equal(snapshotMethod(manager, null).status, 200, 'no payload: every snapshot source');
});

test('a throwing snapshot degrades the source and never crashes the agent; stop ends the snapshots', async (t) => {
  const bad = new FakeSource('BadSnap', { snapshot: 'throw' });
  const good = new FakeSource('GoodSnap', { snapshot: 'ok' });
  const { manager, config } = setup(t, [bad, good]);
  await manager.apply(config({ snapshotFrequency: 'PT0.05S' }));
  await waitUntil(() => bad.snapshots >= 3 && good.snapshots >= 3);
  const statuses = manager.statuses();
  assert.equal(statuses.BadSnap!.state, 'degraded');
  assert.match(statuses.BadSnap!.reason!, /snapshot failed: snapshot exploded/);
  assert.equal(statuses.GoodSnap!.state, 'running');
  await manager.stopAll();
  const after = bad.snapshots + good.snapshots;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(bad.snapshots + good.snapshots, after);
  assert.deepEqual([bad.stops, good.stops], [1, 1]);
});

test('an emit that throws (pipeline refusing) is contained; events from a stopped instance are dropped', async (t) => {
  const fake = new FakeSource('Emitter', { emitOnStart: true });
  let calls = 0;
  const { manager, config } = setup(t, [fake], () => {
    calls++;
    throw new Error('pipeline exploded');
  });
  await manager.apply(config());
  assert.equal(calls, 1);
  assert.equal(manager.statuses().Emitter!.state, 'running');
  const staleCtx = fake.lastCtx!;
  await manager.apply(config({ collectorEnabledEmitter: false }));
  staleCtx.emit(createEvent('SystemInformation', 'Periodic', [{ OSName: 'late' }]));
  staleCtx.setStatus({ state: 'running' });
  assert.equal(calls, 1, 'emit after stop is ignored');
  assert.equal(manager.statuses().Emitter!.state, 'disabled');
});

test('a source whose stop hangs is abandoned after the stop timeout', async (t) => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-sm-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const hanging: SourceDefinition = { name: 'Hang', description: 'never stops', events: [], settings: [], start: async () => ({ stop: () => new Promise<void>(() => undefined) }) };
  const manager = new SourceManager({ sources: [hanging], hostRoot: '/', stateDir, emit: () => undefined, log: getLogger('test'), stopTimeoutMs: 100 });
  await manager.apply(defaultConfigView(settingsCatalogue([hanging])));
  const started = Date.now();
  await manager.stopAll();
  assert.ok(Date.now() - started < 2000);
});

test('snapshot direct method: 3 calls at once, then 429 with retryAfterSeconds until the bucket refills; oversized name lists refused', async () => {
  const { RateLimiter } = await import('../../../src/agent/rate-limit');
  let now = 1_000_000;
  const limiter = new RateLimiter(3, 20_000, () => now);
  let calls = 0;
  const manager = { snapshotNow: () => ((calls++), { triggered: ['SnapA'], notRunning: [], unknown: [] }) };
  const answers = Array.from({ length: 10 }, () => snapshotMethod(manager, null, limiter));
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
  assert.equal(calls, 3, 'refused calls take no snapshot');
  assert.deepEqual(answers[3]!.payload, { error: 'snapshot requested too often', retryAfterSeconds: 20 });
  now += 20_000;
  assert.equal(snapshotMethod(manager, null, limiter).status, 200);
  now -= 3_600_000; // clock stepped back an hour: no refill, no debt
  assert.equal(snapshotMethod(manager, null, limiter).status, 429);
  now += 20_000;
  assert.equal(snapshotMethod(manager, null, limiter).status, 200);
  assert.equal(snapshotMethod(manager, { sources: Array.from({ length: 1000 }, () => 'x') }, limiter).status, 400);
  assert.equal(snapshotMethod(manager, { sources: ['x'.repeat(100_000)] }, limiter).status, 400);
});
