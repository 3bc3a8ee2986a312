import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { defaultObjectPath, loadSensorAddon } from '../../../src/sources/host/kernel-sensor/sensor';
import { builtAgentSkipReason } from '../../harness/agent-process';
import { referenceSchemaDir } from '../../harness/paths';
import { StandaloneAgent } from '../../harness/standalone-agent';

// The kernel sensor through the agent process (standalone): a file change and a short-lived process
// made by another process come out on stdout as schema-valid messages; the twin status names the method.

const validator = createSchemaValidator(referenceSchemaDir());

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'SKIPPED: the kernel sensor needs root';
  const unbuilt = builtAgentSkipReason();
  if (unbuilt) return `SKIPPED: ${unbuilt}`;
  const loaded = loadSensorAddon();
  if ('reason' in loaded) return `SKIPPED: ${loaded.reason}`;
  try {
    loaded.addon.sensorClose(loaded.addon.sensorOpen({ objectPath: defaultObjectPath(), network: false, files: false }, () => undefined));
  } catch (err) {
    return `SKIPPED: the kernel sensor does not load here: ${err instanceof Error ? err.message : String(err)}`;
  }
  return false;
}
const SKIP = skipReason();
if (SKIP) console.error(SKIP);

function isValidMessage(line: string): boolean {
  try {
    return validator.validateMessage(JSON.parse(line)).valid;
  } catch {
    return false;
  }
}

test('agent: FileOperation and ProcessCreate from the kernel sensor reach stdout; the reported status names the eBPF method', { skip: SKIP, timeout: 90_000 }, async () => {
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'h-ebpf-agent-')));
  const watched = path.join(dir, 'watched');
  mkdirSync(watched);
  const config = [
    'highPriorityMessageFrequency: PT1S',
    'lowPriorityMessageFrequency: PT1S',
    'snapshotFrequency: PT1H',
    'aggregationEnabledProcessCreate: false',
    `fileOperationsWatchPaths: ["${watched}/"]`,
    'collectorEnabledContainerRuntime: false',
    'collectorEnabledDeploymentManifests: false',
    '',
  ].join('\n');
  // Started before the agent: not in EdgeGuard's own tree, so not excluded in the kernel.
  const writer: ChildProcess = spawn('sh', ['-c', `read go; echo x > ${watched}/changed; /bin/true h-ebpf-agent-marker`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const agent = new StandaloneAgent(config, { dir });
  const payloads = (name: string): Array<Record<string, unknown>> => agent.events(name).flatMap((e) => e.Payload);
  try {
    await agent.waitFor('FileOperations running', () => agent.sourceStatus('FileOperations')?.state === 'running', 30_000);
    await agent.waitFor('ProcessEvents on the sensor', () => /eBPF/.test(agent.sourceStatus('ProcessEvents')?.method ?? ''), 30_000);
    writer.stdin!.end('go\n');
    await agent.waitFor('the FileOperation on stdout', () => payloads('FileOperation').some((p) => p.Path === path.join(watched, 'changed')), 30_000);
    await agent.waitFor('the ProcessCreate on stdout', () => payloads('ProcessCreate').some((p) => p.CommandLine === '/bin/true h-ebpf-agent-marker'), 30_000);
    const op = payloads('FileOperation').find((p) => p.Path === path.join(watched, 'changed'))!;
    assert.equal(op.Operation, 'OpenForWrite');
    assert.equal(op.ProcessId, writer.pid);
    const invalid = agent.process.stdoutLines.filter((line) => !isValidMessage(line)).map((line) => line.slice(0, 300));
    assert.deepEqual(invalid, [], 'every stdout line is a schema-valid message');
    assert.match(agent.sourceStatus('Connections')?.method ?? '', /eBPF/);
  } finally {
    writer.kill();
    await agent.stop(true).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
