import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONFIG_KEY } from '../../../src/config/settings';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { STATUS_KEY } from '../../../src/agent/property-reporter';
import { AgentProcess, builtAgentSkipReason } from '../../harness/agent-process';
import { EdgeHubStandIn, edgeHubStandInSkipReason } from '../../harness/edgehub-standin';
import { childEnvironment } from '../../harness/iot-environment';
import { referenceSchemaDir } from '../../harness/paths';
import { WorkloadStandIn } from '../../harness/workload-standin';

/**
 * The built agent (`node dist/src/main.js`) as IoT Edge runs it, against the edgeHub stand-in: twin in,
 * reported configuration out, schema-valid security messages, bad configuration, outage, restart, SIGTERM.
 * ProcessCreate events of processes this test starts (a copy of `sleep` under a unique name) make a
 * deterministic event source: each one must arrive upstream at least once.
 */

const skip = edgeHubStandInSkipReason() ?? builtAgentSkipReason() ?? (process.getuid?.() === 0 ? undefined : 'the agent needs root for the proc connector');
if (skip) console.error(`SKIP: agent end-to-end tests: ${skip}`);

type Json = Record<string, unknown>;
interface WireEvent {
  Name: string;
  EventType: string;
  Category: string;
  Payload: Json[];
}

const validator = createSchemaValidator(referenceSchemaDir());
const tempDirs: string[] = [];
const cleanups: Array<() => Promise<unknown> | unknown> = [];
after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // best effort: the test already failed or passed on its own assertions
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

const wrapped = (value: unknown) => ({ value });

/**
 * Short frequencies, the Docker collectors off, and every ProcessCreate sent on its own (no aggregation).
 * Every exec on this machine is then queued one by one during the outage: a 64 MB cache keeps a busy
 * machine (parallel builds, benchmarks) from pushing the test's marked events out of the Low queue.
 */
function fastDesired(): Json {
  return {
    [CONFIG_KEY]: {
      highPriorityMessageFrequency: wrapped('PT1S'),
      lowPriorityMessageFrequency: wrapped('PT2S'),
      snapshotFrequency: wrapped('PT2S'),
      aggregationEnabledProcessCreate: wrapped(false),
      eventPriorityProcessTerminate: wrapped('Off'),
      maxLocalCacheSizeInBytes: wrapped(64 * 1024 * 1024),
      collectorEnabledContainerRuntime: wrapped(false),
      collectorEnabledDeploymentManifests: wrapped(false),
    },
  };
}

function startAgent(hub: EdgeHubStandIn, stateDir: string, iotEnvironment: Record<string, string> = hub.devEnvironment()): AgentProcess {
  const agent = new AgentProcess(childEnvironment({ ...iotEnvironment, EDGEGUARD_STATE_DIR: stateDir, EDGEGUARD_HOST_ROOT: '/' }));
  cleanups.push(() => agent.stop('SIGKILL', 5000));
  return agent;
}

function events(hub: EdgeHubStandIn): WireEvent[] {
  return hub.outputBodies().flatMap((body) => (body as { Events: WireEvent[] }).Events);
}

/** Runs `count` short-lived processes whose executable and command line carry `marker`; resolves when all exited. */
async function runMarkedProcesses(marker: string, count: number): Promise<string[]> {
  const dir = tempDir('edgeguard-e2e-bin-');
  const executable = path.join(dir, marker);
  copyFileSync('/bin/sleep', executable);
  const commandLines: string[] = [];
  const exits: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const arg = (0.3 + (i + 1) / 10_000).toFixed(4);
    commandLines.push(`${executable} ${arg}`);
    const child = spawn(executable, [arg], { stdio: 'ignore' });
    exits.push(new Promise((resolve) => child.on('exit', () => resolve())));
    await sleep(20);
  }
  await Promise.all(exits);
  return commandLines;
}

/** Distinct marked command lines seen upstream (duplicates are allowed: at-least-once delivery). */
function markedCommandLines(hub: EdgeHubStandIn, marker: string): Set<string> {
  const seen = new Set<string>();
  for (const event of events(hub)) {
    if (event.Name !== 'ProcessCreate') continue;
    for (const item of event.Payload) if (typeof item.CommandLine === 'string' && item.CommandLine.includes(marker)) seen.add(item.CommandLine);
  }
  return seen;
}

function assertAllValid(hub: EdgeHubStandIn): void {
  for (const body of hub.outputBodies()) {
    const result = validator.validateMessage(body);
    assert.ok(result.valid, `message does not validate: ${result.errors.join('; ')}`);
  }
}

function reportedConfig(reported: Json): Record<string, { value?: unknown }> {
  return (reported[CONFIG_KEY] ?? {}) as Record<string, { value?: unknown }>;
}

test('agent against edgeHub: twin, reported configuration, valid messages, bad patch, outage without loss, SIGTERM flush', { skip, timeout: 80_000 }, async (t) => {
  const hub = await EdgeHubStandIn.start({ desired: fastDesired() });
  cleanups.push(() => hub.close());
  const stateDir = tempDir('edgeguard-e2e-state-');
  const agent = startAgent(hub, stateDir);

  // Connects, reads the twin, reports the full effective configuration (every setting wrapped) and a status.
  await hub.waitForReported((r) => reportedConfig(r).highPriorityMessageFrequency?.value === 'PT1S' && r[STATUS_KEY] !== undefined, 20_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${agent.tail()}`);
  });
  assert.ok(hub.twinGets >= 1);
  const config = reportedConfig(hub.reported);
  for (const [name, setting] of Object.entries(config)) {
    assert.ok(setting !== null && typeof setting === 'object' && 'value' in setting, `${name} is reported wrapped as {value}`);
  }
  assert.equal(config.lowPriorityMessageFrequency?.value, 'PT2S');
  assert.equal(config.maxMessageSizeInBytes?.value, 204_800, 'defaults are reported too');
  assert.equal(config.eventPriorityProcessCreate?.value, 'Low');
  assert.equal(config.aggregationEnabledProcessCreate?.value, false);
  const status = hub.reported[STATUS_KEY] as Json;
  assert.equal(status.mode, 'edgeHub');
  assert.deepEqual(status.configurationErrors, {}, 'a good twin has no configuration errors');
  assert.deepEqual(status.unknownSettings, {}, 'twin metadata such as $version is not taken for a setting');
  assert.match(String(status.agentId), /^[0-9a-f-]{36}$/);
  const method = await hub.invokeMethod('status', null);
  assert.equal(method.status, 200);
  assert.equal(((method.payload as Json)[STATUS_KEY] as Json).agentId, status.agentId, 'the status direct method answers the reported document');
  const snapshot = await hub.invokeMethod('snapshot', { sources: ['LocalUsers'] });
  assert.deepEqual(snapshot, { status: 200, payload: { triggered: ['LocalUsers'], notRunning: [], unknown: [] } }, 'snapshot on demand');

  // Security messages that validate, SystemInformation among them, with the transport's properties.
  await hub.waitForOutput(() => events(hub).some((e) => e.Name === 'SystemInformation'), 20_000);
  const first = hub.outputs[0]!;
  assert.equal(first.output, 'securityEvents');
  assert.equal(first.interfaceId, 'urn:azureiot:Security:SecurityAgent:1');
  assert.equal(first.contentType, 'application/json');
  assert.ok(['High', 'Low', 'Operational'].includes(first.properties.MessagePriority ?? ''));
  assertAllValid(hub);

  // An invalid desired patch: ConfigurationError upstream, error reported, the old value stays in effect.
  await hub.patchDesired({ [CONFIG_KEY]: { maxMessageSizeInBytes: wrapped('big') } });
  await hub.waitForOutput(() => events(hub).some((e) => e.Name === 'ConfigurationError' && e.Payload.some((p) => p.ConfigurationName === 'maxMessageSizeInBytes' && p.ErrorType === 'TypeMismatch')), 15_000);
  await hub.waitForReported((r) => {
    const errors = ((r[STATUS_KEY] as Json | undefined)?.configurationErrors ?? {}) as Record<string, { errorType?: string }>;
    return errors.maxMessageSizeInBytes?.errorType === 'TypeMismatch';
  }, 10_000);
  assert.equal(reportedConfig(hub.reported).maxMessageSizeInBytes?.value, 204_800, 'the last good value stays effective');
  assertAllValid(hub);

  // edgeHub outage of several seconds: events made meanwhile all arrive after the reconnect.
  const outageMarker = `edgeguard-e2e-${randomBytes(4).toString('hex')}`;
  await hub.stopListener();
  const outageCommands = await runMarkedProcesses(outageMarker, 12);
  await sleep(5000);
  assert.equal(markedCommandLines(hub, outageMarker).size, 0, 'nothing can arrive while edgeHub is down');
  await hub.startListener();
  const back = Date.now();
  await hub.waitUntil(() => markedCommandLines(hub, outageMarker).size === outageCommands.length, 40_000, 'every event made during the outage').catch((err: Error) => {
    throw new Error(`${err.message}: got ${markedCommandLines(hub, outageMarker).size}/${outageCommands.length}\n${agent.tail()}`);
  });
  t.diagnostic(`events queued during the outage delivered ${Date.now() - back} ms after edgeHub came back`);
  assert.deepEqual([...markedCommandLines(hub, outageMarker)].sort(), [...outageCommands].sort());
  assertAllValid(hub);

  // SIGTERM while online: pending events are flushed before exit 0. Long frequencies and a long aggregation
  // window so only the flush can send them (a burst of other execs on a busy machine cannot fill a message).
  await hub.patchDesired({
    [CONFIG_KEY]: {
      highPriorityMessageFrequency: wrapped('PT1H'),
      lowPriorityMessageFrequency: wrapped('PT1H'),
      aggregationEnabledProcessCreate: wrapped(true),
      aggregationIntervalProcessCreate: wrapped('PT1H'),
    },
  });
  await hub.waitForReported((r) => reportedConfig(r).aggregationIntervalProcessCreate?.value === 'PT1H' && reportedConfig(r).lowPriorityMessageFrequency?.value === 'PT1H', 10_000);
  const flushMarker = `edgeguard-e2e-${randomBytes(4).toString('hex')}`;
  const flushCommands = await runMarkedProcesses(flushMarker, 5);
  await sleep(1500);
  assert.equal(markedCommandLines(hub, flushMarker).size, 0, 'events wait for the (long) send frequency');
  assert.equal(await agent.stop('SIGTERM'), 0, `exit code 0 after SIGTERM\n${agent.tail()}`);
  assert.deepEqual([...markedCommandLines(hub, flushMarker)].sort(), [...flushCommands].sort(), 'flushed on SIGTERM');
  assertAllValid(hub);
});

test('SIGTERM while edgeHub is down keeps the queue on disk; the restarted agent sends it', { skip, timeout: 60_000 }, async () => {
  const hub = await EdgeHubStandIn.start({ desired: fastDesired() });
  cleanups.push(() => hub.close());
  const stateDir = tempDir('edgeguard-e2e-state-');
  const first = startAgent(hub, stateDir);
  await hub.waitForReported((r) => r[STATUS_KEY] !== undefined, 20_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${first.tail()}`);
  });
  const agentId = (hub.reported[STATUS_KEY] as Json).agentId;

  await hub.stopListener();
  const marker = `edgeguard-e2e-${randomBytes(4).toString('hex')}`;
  const commands = await runMarkedProcesses(marker, 10);
  await sleep(1500);
  assert.equal(await first.stop('SIGTERM'), 0, `exit code 0 after SIGTERM while offline\n${first.tail()}`);
  assert.equal(markedCommandLines(hub, marker).size, 0);

  await hub.startListener();
  const second = startAgent(hub, stateDir);
  await hub.waitUntil(() => markedCommandLines(hub, marker).size === commands.length, 30_000, 'the persisted queue after the restart').catch((err: Error) => {
    throw new Error(`${err.message}: got ${markedCommandLines(hub, marker).size}/${commands.length}\n${second.tail()}`);
  });
  assert.deepEqual([...markedCommandLines(hub, marker)].sort(), [...commands].sort());
  await hub.waitForReported((r) => (r[STATUS_KEY] as Json | undefined)?.startedAt !== undefined, 10_000);
  assert.equal((hub.reported[STATUS_KEY] as Json).agentId, agentId, 'AgentId is stable across restarts');
  assertAllValid(hub);
  assert.equal(await second.stop('SIGTERM'), 0);
});

test('production variables (workload API), agent started before edgeHub: it waits, then connects and sends', { skip, timeout: 40_000 }, async () => {
  const hub = await EdgeHubStandIn.start({ desired: fastDesired(), listen: false });
  cleanups.push(() => hub.close());
  const workload = await WorkloadStandIn.start({ trustBundle: hub.caPem, moduleKey: hub.sharedAccessKey, moduleId: hub.moduleId });
  cleanups.push(() => workload.close());
  const agent = startAgent(hub, tempDir('edgeguard-e2e-state-'), workload.environment(hub));
  await sleep(3000);
  assert.ok(agent.running, `the agent keeps running without edgeHub\n${agent.tail()}`);
  assert.ok(agent.lines.some((l) => /edgeHub not reachable, retrying/.test(l)), 'retries are logged');
  assert.ok(!agent.lines.some((l) => l.includes(hub.sharedAccessKey)), 'no key in the logs');

  await hub.startListener();
  await hub.waitForReported((r) => reportedConfig(r).snapshotFrequency?.value === 'PT2S' && r[STATUS_KEY] !== undefined, 25_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${agent.tail()}`);
  });
  await hub.waitForOutput(() => events(hub).some((e) => e.Name === 'SystemInformation'), 15_000);
  assert.ok(workload.requests.some((r) => r.url.includes('/sign')), 'SAS tokens signed by the workload API');
  assertAllValid(hub);
  assert.equal(await agent.stop('SIGTERM'), 0);
});
