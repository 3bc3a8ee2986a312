import assert from 'node:assert/strict';
import { DetectionStage } from '../../../src/detections/stage';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
import { dockerForTests } from '../../harness/docker';
import { HostTree } from '../../harness/host-tree';
import { repoRoot } from '../../harness/paths';

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
async function compose(sources: readonly SourceDefinition[], stateDir: string, initial: Record<string, unknown> = {}, hostRoot = resolveHostRoot()) {
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
    hostRoot,
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

type Agent = Awaited<ReturnType<typeof compose>>;

const COMPAT_TEXT = 'Accepted for compatibility with the Defender for IoT twin';

/** The source that declares a setting (the catalogue adds collectorEnabled<name> for each). */
function ownerOf(name: string): SourceDefinition | undefined {
  return ALL_SOURCES.find((s) => s.settings.some((d) => d.name === name) || `collectorEnabled${s.name}` === name);
}

const lastRead = (agent: Agent, reader: string, name: string): number => Math.max(-Infinity, ...(agent.reads.get(name)?.get(reader) ?? []).map((r) => r.at));

/**
 * The readers of a setting in their current run: a source that read it under one method and has since
 * restarted under another (it read its `*Method` setting again, not this one) no longer reads it.
 */
function currentReaders(agent: Agent, name: string): string[] {
  const methods = (ownerOf(name)?.settings ?? []).filter((m) => m.type === 'enum' && m.name.endsWith('Method') && m.name !== name);
  return [...(agent.reads.get(name)?.keys() ?? [])].filter((reader) => methods.every((m) => lastRead(agent, reader, name) >= lastRead(agent, reader, m.name)));
}

/**
 * Applies `patch` (a desired patch replaces the whole set: what it omits returns to its default) with
 * `def` changed, and reports whether every earlier reader and at least one reader saw the new value.
 */
async function changeAndSee(agent: Agent, def: SettingDefinition, patch: Record<string, SettingValue>, waitMs: number): Promise<{ seen: boolean; readers: string[]; stale: string[]; value: SettingValue }> {
  const readers = currentReaders(agent, def.name);
  const value = anotherValue(def, agent.store.current().raw(def.name));
  const since = performance.now();
  await agent.applier.apply({ [CONFIG_KEY]: Object.fromEntries(Object.entries({ ...patch, [def.name]: value }).map(([k, v]) => [k, { value: v }])) });
  assert.ok(same(agent.store.current().raw(def.name), value), `the store took ${def.name}`);
  const sawNew = (reader: string): boolean => (agent.reads.get(def.name)?.get(reader) ?? []).some((r) => r.at >= since && same(r.value, value));
  const newReaders = (): string[] => [...(agent.reads.get(def.name)?.keys() ?? [])].filter(sawNew);
  await waitFor(() => readers.every(sawNew) && newReaders().length > 0, readers.length > 0 ? 20_000 : waitMs);
  return { seen: newReaders().length > 0, readers, stale: readers.filter((r) => !sawNew(r)), value };
}

/**
 * A setting read only under one method of its source (e.g. the proc connector's buffer under
 * processEventsMethod netlink): each other value of the source's `*Method` settings is set through the
 * same desired patch, then the setting is changed with it. Returns the method that made it read.
 */
async function changeUnderMethods(agent: Agent, def: SettingDefinition): Promise<{ method: string; result: Awaited<ReturnType<typeof changeAndSee>> } | undefined> {
  const methods = (ownerOf(def.name)?.settings ?? []).filter((m) => m.type === 'enum' && m.name.endsWith('Method') && m.name !== def.name);
  for (const m of methods) {
    for (const v of (m.values ?? []).filter((x) => x !== agent.store.current().raw(m.name) && x !== 'auto')) {
      const since = performance.now();
      await agent.applier.apply({ [CONFIG_KEY]: { [m.name]: { value: v } } });
      // The source restarted under the method (or failed to: then it reads nothing of the method's settings).
      await waitFor(() => [...(agent.reads.get(m.name)?.values() ?? [])].some((list) => list.some((r) => r.at >= since && r.value === v)), 5_000);
      const result = await changeAndSee(agent, def, { [m.name]: v }, 3_000);
      if (result.seen) {
        await backToDefaults(agent, m.name);
        return { method: `${m.name}=${v}`, result };
      }
    }
    await backToDefaults(agent, m.name);
  }
  return undefined;
}

/** Every setting back to its default, the method's source restarted under it (the next setting starts from there). */
async function backToDefaults(agent: Agent, method: string): Promise<void> {
  const since = performance.now();
  await agent.applier.apply({ [CONFIG_KEY]: {} });
  const value = agent.store.current().raw(method);
  await waitFor(() => [...(agent.reads.get(method)?.values() ?? [])].some((list) => list.some((r) => r.at >= since && r.value === value)), 5_000);
}

/** A host root with what this machine may lack (a /proc/modules: this kernel has none), for the sources that read it. */
function preparedHost(): HostTree {
  const host = new HostTree('edgeguard-live-host-');
  host.mkdir('/proc/1'); // a proc tree (resolveProcRoot looks for pids)
  host.write('/proc/1/stat', '1 (init) S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0\n');
  host.write('/proc/modules', 'nf_tables 348160 1 nft_chain_nat, Live 0xffffffffc0a42000\nnft_chain_nat 12288 0 - Live 0xffffffffc0a3c000\n');
  return host;
}

test('every setting of the catalogue applies live in every component that reads it', { timeout: 600_000 }, async (t) => {
  setLogLevel('error');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-live-settings-'));
  const agent = await compose(ALL_SOURCES, dir);
  const host = preparedHost();
  t.after(async () => {
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
    host.remove();
    setLogLevel('info');
  });
  const docker = await dockerForTests();
  const dockerSources = new Set(ALL_SOURCES.filter((s) => !HOST_SOURCES.includes(s)).map((s) => s.name));
  const readme = readFileSync(path.join(repoRoot(), 'README.md'), 'utf8');
  // Snapshots run right after each start: give the first ones time to read what they read lazily.
  await new Promise((r) => setTimeout(r, 2000));
  const counts = { live: 0, underMethod: [] as string[], onPreparedHost: [] as string[], compatOnly: [] as string[], skipped: [] as string[] };
  for (const def of agent.catalogue) {
    await t.test(def.name, { timeout: 90_000 }, async (st) => {
      if (def.compatOnly) {
        // Nothing reads it (checked at the end, after every change): it must say so where users look.
        assert.ok(def.description.startsWith(COMPAT_TEXT), `${def.name} is declared compat-only and its description says so`);
        const row = readme.split('\n').find((l) => l.startsWith(`| \`${def.name}\` |`));
        assert.ok(row?.includes(COMPAT_TEXT), `README documents ${def.name} as accepted for compatibility only`);
        counts.compatOnly.push(def.name);
        return;
      }
      let result = await changeAndSee(agent, def, {}, 3_000);
      if (!result.seen) {
        const under = await changeUnderMethods(agent, def);
        if (under) {
          result = under.result;
          counts.underMethod.push(`${def.name} (${under.method})`);
        }
      }
      if (!result.seen) {
        // Read only where the host has what this machine lacks: the owning source on a prepared host root.
        const owner = ownerOf(def.name);
        if (owner && !('skip' in docker && dockerSources.has(owner.name))) {
          const hostDir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-live-prepared-'));
          const prepared = await compose([owner], hostDir, {}, resolveHostRoot({ EDGEGUARD_HOST_ROOT: host.root }));
          try {
            await new Promise((r) => setTimeout(r, 500));
            result = await changeAndSee(prepared, def, {}, 3_000);
            if (!result.seen) result = (await changeUnderMethods(prepared, def))?.result ?? result;
          } finally {
            await prepared.stop();
            rmSync(hostDir, { recursive: true, force: true });
          }
          if (result.seen) counts.onPreparedHost.push(def.name);
        }
      }
      if (!result.seen && 'skip' in docker && dockerSources.has(ownerOf(def.name)?.name ?? '')) {
        counts.skipped.push(def.name);
        st.skip(`SKIP: ${def.name} is read by a Docker source and ${docker.skip}`);
        return;
      }
      assert.ok(result.seen, `no component reads ${def.name}, under any method of its source, on this host or a prepared one: a setting nothing reads must be declared compatOnly (and documented as such), or be read`);
      assert.deepEqual(result.stale, [], `every reader of ${def.name} (${result.readers.join(', ')}) saw ${JSON.stringify(result.value)}`);
      counts.live++;
    });
  }
  for (const name of counts.compatOnly) assert.equal(agent.reads.get(name), undefined, `${name} is declared compat-only but ${[...(agent.reads.get(name)?.keys() ?? [])].join(', ')} read it`);
  process.stdout.write(
    `live settings: ${counts.live} of ${agent.catalogue.length} changed and seen by their readers (${counts.underMethod.length} under a method: ${counts.underMethod.join(', ') || 'none'}; ` +
      `${counts.onPreparedHost.length} on a prepared host root: ${counts.onPreparedHost.join(', ') || 'none'}); compat-only: ${counts.compatOnly.join(', ') || 'none'}; skipped: ${counts.skipped.join(', ') || 'none'}\n`,
  );
  assert.equal(counts.live + counts.compatOnly.length + counts.skipped.length, agent.catalogue.length, 'every setting is accounted for');
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
