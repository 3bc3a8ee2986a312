import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigStore } from '../../../src/config/config-store';
import { CONFIG_KEY } from '../../../src/config/settings';
import { getLogger } from '../../../src/core/logger';
import type { PipelineStats } from '../../../src/pipeline/types';
import { PropertyReporter, reportedDocument, STATUS_KEY, type ReportInputs } from '../../../src/agent/property-reporter';
import { diffPatch, mergePatch } from '../../../src/core/json-merge-patch';
import type { ReportedSourceStatus } from '../../../src/agent/source-manager';
import { StandaloneUpstream } from '../../../src/upstream/standalone-upstream';
import { ALL_SOURCES } from '../../../src/sources/index';
import { settingsCatalogue } from '../../../src/agent/catalogue';
import { waitUntil } from '../../harness/wait-until';

const catalogue = settingsCatalogue(ALL_SOURCES);

function stats(lastSendError?: string): PipelineStats {
  return {
    queued: { High: { events: 1, bytes: 100 }, Low: { events: 2, bytes: 300 }, Operational: { events: 0, bytes: 0 } },
    dropped: { High: 0, Low: 3, Operational: 0 },
    sent: { messages: 4, events: 10, bytes: 4000 },
    ingested: 16,
    ...(lastSendError ? { lastSendError } : {}),
  };
}

function fixture() {
  const store = new ConfigStore(catalogue);
  const sources: Record<string, ReportedSourceStatus> = { SystemInformation: { state: 'running', method: 'host files under /', since: '2026-11-23T00:00:00.000Z' } };
  let pipeline = stats();
  const inputs: ReportInputs = {
    identity: { version: '0.1.0', mode: 'edgeHub', agentId: '11111111-2222-4333-8444-555555555555', startedAt: '2026-11-23T00:00:00.000Z', hostRoot: '/host' },
    configuration: () => store.reportedConfiguration(),
    problems: () => store.problems(),
    unknownSettings: () => store.unknownSettings(),
    sources: () => sources,
    pipelineStats: () => pipeline,
  };
  const patches: Array<Record<string, unknown>> = [];
  const twin: Record<string, unknown> = {};
  let refuse = false;
  const report = async (patch: Record<string, unknown>) => {
    if (refuse) throw new Error('edgeHub not connected');
    patches.push(JSON.parse(JSON.stringify(patch)));
    mergePatch(twin, JSON.parse(JSON.stringify(patch)));
  };
  return {
    store,
    sources,
    inputs,
    patches,
    twin,
    report,
    setPipeline: (s: PipelineStats) => (pipeline = s),
    refuse: (on: boolean) => (refuse = on),
  };
}

test('diffPatch/mergePatch: only changes, null for removed keys, round trip', () => {
  const a = { x: 1, nested: { keep: 1, gone: 2 }, old: 'y' };
  const b = { x: 2, nested: { keep: 1, added: 3 } };
  const patch = diffPatch(a, b)!;
  assert.deepEqual(patch, { x: 2, nested: { gone: null, added: 3 }, old: null });
  assert.deepEqual(mergePatch(JSON.parse(JSON.stringify(a)), patch), b);
  assert.equal(diffPatch(b, JSON.parse(JSON.stringify(b))), undefined);
});

test('first report: clears what an earlier run left, then the full configuration and status', async () => {
  const f = fixture();
  f.twin[STATUS_KEY] = { configurationErrors: { staleSetting: { errorType: 'TypeMismatch' } } };
  const reporter = new PropertyReporter(f.report, f.inputs, { debounceMs: 10 });
  await reporter.flush();
  assert.deepEqual(f.patches[0], { [CONFIG_KEY]: null, [STATUS_KEY]: null });
  const config = f.twin[CONFIG_KEY] as Record<string, { value: unknown }>;
  assert.deepEqual(Object.keys(config), catalogue.map((d) => d.name), 'every setting, defaults included');
  assert.deepEqual(config.highPriorityMessageFrequency, { value: 'PT7M' });
  const status = f.twin[STATUS_KEY] as Record<string, unknown>;
  assert.equal(status.version, '0.1.0');
  assert.equal(status.mode, 'edgeHub');
  assert.equal(status.agentId, '11111111-2222-4333-8444-555555555555');
  assert.deepEqual(status.sources, f.sources);
  assert.deepEqual(status.configurationErrors, {});
  assert.deepEqual(status.pipeline, { ingestedEvents: 16, queuedEvents: 3, queuedBytes: 400, droppedEvents: 3, sentMessages: 4, sentEvents: 10, sentBytes: 4000 });
  assert.equal(status.lastSendError, '');
  reporter.close();
});

test('reports on change only: pipeline figures alone do not cause a report; errors come and go with nulls', async () => {
  const f = fixture();
  const reporter = new PropertyReporter(f.report, f.inputs, { debounceMs: 10 });
  await reporter.flush();
  const count = f.patches.length;
  f.setPipeline({ ...stats(), ingested: 99 });
  await reporter.flush();
  assert.equal(f.patches.length, count, 'no report for figures only');

  f.store.applyDesired({ [CONFIG_KEY]: { snapshotFrequency: { value: 'bad' }, eventPriorityLogin: { value: 'Low' } } });
  await reporter.flush();
  const patch = f.patches.at(-1)!;
  assert.deepEqual((patch[CONFIG_KEY] as Record<string, unknown>), { eventPriorityLogin: { value: 'Low' } }, 'only the changed setting');
  const errors = (f.twin[STATUS_KEY] as { configurationErrors: Record<string, { errorType: string; usedConfiguration: string }> }).configurationErrors;
  assert.equal(errors.snapshotFrequency!.errorType, 'TypeMismatch');
  assert.equal(errors.snapshotFrequency!.usedConfiguration, 'PT13H');

  f.store.applyDesired({ [CONFIG_KEY]: { eventPriorityLogin: { value: 'Low' } } });
  await reporter.flush();
  assert.deepEqual((f.twin[STATUS_KEY] as { configurationErrors: object }).configurationErrors, {}, 'the fixed error is removed from the twin');

  f.setPipeline(stats('connection refused'));
  await reporter.flush();
  assert.equal((f.twin[STATUS_KEY] as { lastSendError: string }).lastSendError, 'connection refused');
  reporter.close();
});

test('debounced: a burst of changes makes one patch; a refused patch is retried', async () => {
  const f = fixture();
  const reporter = new PropertyReporter(f.report, f.inputs, { debounceMs: 30, retryMs: 30, refreshMs: 60_000 });
  await reporter.flush();
  const count = f.patches.length;
  for (const state of ['degraded', 'failed', 'running', 'degraded'] as const) {
    f.sources.SystemInformation = { state, since: new Date().toISOString() };
    reporter.schedule();
  }
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(f.patches.length, count + 1);

  f.refuse(true);
  f.sources.SystemInformation = { state: 'failed', reason: 'x', since: new Date().toISOString() };
  reporter.schedule();
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(f.patches.length, count + 1);
  f.refuse(false);
  await waitUntil(() => f.patches.length === count + 2, 2000);
  assert.equal(((f.twin[STATUS_KEY] as { sources: Record<string, { state: string }> }).sources.SystemInformation!).state, 'failed');
  reporter.close();
});

test('standalone upstream: reported patches merge into <stateDir>/reported.json', async (t) => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-reported-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const upstream = new StandaloneUpstream({ configFile: undefined, stateDir, transport: { name: 'none', send: async () => undefined }, log: getLogger('test') });
  const f = fixture();
  const reporter = new PropertyReporter((p) => upstream.reportProperties(p), f.inputs, { debounceMs: 10 });
  await reporter.flush();
  f.store.applyDesired({ [CONFIG_KEY]: { eventPriorityLogin: { value: 'Off' } } });
  await reporter.flush();
  const onDisk = JSON.parse(readFileSync(path.join(stateDir, 'reported.json'), 'utf8'));
  assert.deepEqual(onDisk[CONFIG_KEY].eventPriorityLogin, { value: 'Off' });
  assert.equal(Object.keys(onDisk[CONFIG_KEY]).length, catalogue.length);
  assert.equal(onDisk[STATUS_KEY].agentId, f.inputs.identity.agentId);
  reporter.close();
  await upstream.close();
});

test('the status stays small and twin-safe: unknown settings are capped, keys have no $ . or space', () => {
  const f = fixture();
  const many: Record<string, unknown> = {};
  for (let i = 0; i < 200; i++) many[`unknownSetting${i}`] = { value: i };
  f.store.applyDesired({ [CONFIG_KEY]: { ...many, maxMessageSizeInBytes: { value: 'x' } } });
  const doc = reportedDocument(f.inputs);
  const unknown = (doc[STATUS_KEY] as { unknownSettings: Record<string, string> }).unknownSettings;
  assert.equal(Object.keys(unknown).length, 21);
  assert.equal(unknown._more, '180 more not listed');
  const keys: string[] = [];
  const walk = (node: unknown) => {
    if (node && typeof node === 'object' && !Array.isArray(node))
      for (const [k, v] of Object.entries(node)) {
        keys.push(k);
        walk(v);
      }
  };
  walk(doc);
  for (const k of keys) assert.doesNotMatch(k, /[$. ]/, k);
  assert.ok(Buffer.byteLength(JSON.stringify(doc)) < 32 * 1024);
});
