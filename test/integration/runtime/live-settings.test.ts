import assert from 'node:assert/strict';
import { DetectionStage } from '../../../src/detections/stage';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { settingsCatalogue } from '../../../src/agent/catalogue';
import { ConfigurationApplier } from '../../../src/agent/configuration-applier';
import { EVENT_TYPES } from '../../../src/agent/event-registry';
import { SourceManager } from '../../../src/agent/source-manager';
import { subscribeComponents } from '../../../src/agent/subscribers';
import { ConfigStore } from '../../../src/config/config-store';
import { CONFIG_KEY, type SettingDefinition, type SettingValue } from '../../../src/config/settings';
import { formatDuration, parseDuration } from '../../../src/core/duration';
import { resolveHostRoot } from '../../../src/core/host-root';
import { getLogger, setLogLevel } from '../../../src/core/logger';
import type { OutgoingMessage, Transport } from '../../../src/core/transport';
import { openPipeline } from '../../../src/pipeline/pipeline';
import type { EventPipeline } from '../../../src/pipeline/types';
import { ALL_SOURCES, HOST_SOURCES } from '../../../src/sources/index';
import type { SourceDefinition } from '../../../src/sources/source';

/**
 * Every setting applies live wherever it is read. Generated from the catalogue: for each setting, the
 * real agent wiring (configuration applier, pipeline, source manager with the real sources on this
 * host) is given a new value at run time, and every component that had read the setting must read it
 * again and see the new value.
 */

/** A valid value different from `current`. */
function anotherValue(def: SettingDefinition, current: SettingValue): SettingValue {
  // A setting whose content is checked gives a valid example.
  if (def.example !== undefined && JSON.stringify(def.example) !== JSON.stringify(current)) return def.example;
  switch (def.type) {
    case 'duration':
      return formatDuration((parseDuration(String(current)) ?? 1000) + 1000);
    case 'integer': {
      const n = Number(current);
      return def.maximum !== undefined && n + 1 > def.maximum ? n - 1 : n + 1;
    }
    case 'boolean':
      return current !== true;
    case 'priority':
      return current === 'Low' ? 'High' : 'Low';
    case 'enum':
      return (def.values ?? []).find((v) => v !== current) ?? String(current);
    case 'string':
      return current === '' ? 'live-settings-test' : `${String(current)}-changed`;
    case 'stringList':
      return [...(Array.isArray(current) ? current : []), 'live-settings-test'];
  }
}

class NullTransport implements Transport {
  readonly name = 'null';
  readonly messages: OutgoingMessage[] = [];
  async send(message: OutgoingMessage): Promise<void> {
    this.messages.push(message);
  }
}

interface Read {
  readonly value: SettingValue;
  readonly at: number;
}

/** The agent's wiring without an upstream; every read of a setting is recorded per reader. */
async function compose(sources: readonly SourceDefinition[], stateDir: string, initial: Record<string, unknown> = {}) {
  const reads = new Map<string, Map<string, Read[]>>();
  const record = (reader: string, name: string, value: SettingValue): void => {
    let byName = reads.get(name);
    if (!byName) reads.set(name, (byName = new Map()));
    let list = byName.get(reader);
    if (!list) byName.set(reader, (list = []));
    list.push({ value, at: performance.now() });
    if (list.length > 50) list.splice(0, list.length - 50);
  };
  const catalogue = settingsCatalogue(sources);
  const store = new ConfigStore(catalogue, { log: getLogger('test/config') });
  const transport = new NullTransport();
  const detections = new DetectionStage({ stateDir: path.join(stateDir, 'state'), log: getLogger('test/detections') });
  detections.configure(store.current());
  const pipeline: EventPipeline = await openPipeline(
    { agentId: '072f3eca-3db0-45ba-8174-fa383bc93caf', agentVersion: '0.1.0', eventTypes: EVENT_TYPES, stateDir: path.join(stateDir, 'state'), transport, detections: detections.factory },
    store.current(),
  );
  const manager = new SourceManager({
    sources,
    hostRoot: resolveHostRoot(),
    stateDir: path.join(stateDir, 'sources'),
    emit: (event, options) => pipeline.ingest(event, options),
    log: getLogger('test/sources'),
    onSettingRead: record,
  });
  let live = false;
  const applier = subscribeComponents(new ConfigurationApplier(store, { log: getLogger('test/agent'), onSettingRead: record }), {
    pipeline,
    manager,
    env: process.env,
    sourcesLive: () => live,
    detections,
  });
  // What the pipeline reads at open, recorded as the 'pipeline' subscriber reads it at each change.
  pipeline.applyConfig(store.current().recording((name, value) => record('pipeline', name, value)));
  await applier.apply({ [CONFIG_KEY]: initial });
  live = true;
  await manager.apply(store.current());
  const stop = async (): Promise<void> => {
    live = false;
    await manager.stopAll();
    detections.close();
    await pipeline.close(1000);
  };
  return { catalogue, store, applier, pipeline, manager, transport, reads, stop };
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

test('every setting of the catalogue applies live in every component that reads it', { timeout: 600_000 }, async (t) => {
  setLogLevel('error');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-live-settings-'));
  const agent = await compose(ALL_SOURCES, dir);
  t.after(async () => {
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
    setLogLevel('info');
  });
  // Snapshots run right after each start: give the first ones time to read what they read lazily.
  await new Promise((r) => setTimeout(r, 2000));
  const unread: string[] = [];
  let covered = 0;
  for (const def of agent.catalogue) {
    await t.test(def.name, { timeout: 60_000 }, async (st) => {
      const readers = [...(agent.reads.get(def.name)?.keys() ?? [])];
      const value = anotherValue(def, agent.store.current().raw(def.name));
      const since = performance.now();
      await agent.applier.apply({ [CONFIG_KEY]: { [def.name]: { value } } });
      assert.ok(same(agent.store.current().raw(def.name), value), `the store took ${def.name}`);
      const sawNew = (reader: string): boolean => (agent.reads.get(def.name)?.get(reader) ?? []).some((r) => r.at >= since && same(r.value, value));
      const newReaders = (): string[] => [...(agent.reads.get(def.name)?.keys() ?? [])].filter(sawNew);
      await waitFor(() => readers.every(sawNew) && newReaders().length > 0, readers.length > 0 ? 20_000 : 3_000);
      if (readers.length === 0 && newReaders().length === 0) {
        unread.push(def.name);
        st.skip(`SKIP: no component running on this host reads ${def.name} (a Defender twin setting EdgeGuard accepts but has no use for, or its source or method did not start here)`);
        return;
      }
      assert.deepEqual(readers.filter((r) => !sawNew(r)), [], `every reader of ${def.name} (${readers.join(', ')}) saw ${JSON.stringify(value)}`);
      covered++;
    });
  }
  process.stdout.write(`live settings: ${covered} of ${agent.catalogue.length} settings changed and seen by their readers; not read on this host: ${unread.join(', ') || 'none'}\n`);
  // The sources that cannot run on this machine account for the unread ones; the rest must be covered.
  assert.ok(covered >= agent.catalogue.length * 0.8, `${covered} of ${agent.catalogue.length} settings covered`);
});

test('issue 9: a priority set to Off at start and back to Low by a desired patch brings the events back, on a snapshot too', { timeout: 120_000 }, async (t) => {
  setLogLevel('error');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-live-priority-'));
  const ports = HOST_SOURCES.filter((s) => s.name === 'ListeningPorts');
  const desired = (priority: string) => ({ eventPriorityListeningPorts: { value: priority }, lowPriorityMessageFrequency: { value: 'PT1S' }, highPriorityMessageFrequency: { value: 'PT1S' } });
  const agent = await compose(ports, dir, desired('Off'));
  t.after(async () => {
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
    setLogLevel('info');
  });
  agent.pipeline.start();
  agent.manager.snapshotNow(['ListeningPorts']);
  await new Promise((r) => setTimeout(r, 1500));
  await agent.pipeline.flush();
  const sentPorts = () => agent.transport.messages.flatMap((m) => (JSON.parse(m.body) as { Events: Array<{ Name: string }> }).Events).filter((e) => e.Name === 'ListeningPorts').length;
  assert.equal(sentPorts(), 0, 'Off: nothing sent');
  await agent.applier.apply({ [CONFIG_KEY]: desired('Low') });
  const result = agent.manager.snapshotNow(['ListeningPorts']);
  assert.deepEqual(result.triggered, ['ListeningPorts']);
  assert.ok(await waitFor(() => agent.pipeline.stats().queued.Low.events > 0 || sentPorts() > 0, 10_000), 'the snapshot after Low reached the queue');
  await agent.pipeline.flush();
  assert.ok(sentPorts() > 0, 'Low: ListeningPorts sent again');
});
