import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { STATUS_KEY } from '../../../src/agent/property-reporter';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { defaultObjectPath, loadSensorAddon } from '../../../src/sources/host/kernel-sensor/sensor';
import { referenceSchemaDir, repoRoot } from '../../harness/paths';

// The kernel sensor through the agent process (standalone): a file change and a short-lived process
// made by another process come out on stdout as schema-valid messages; the twin status names the method.

const MAIN = path.join(repoRoot(), 'dist', 'src', 'main.js');
const validator = createSchemaValidator(referenceSchemaDir());

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'SKIPPED: the kernel sensor needs root';
  if (!existsSync(MAIN)) return `SKIPPED: ${MAIN} not built (npm run build)`;
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

interface Message {
  Events: Array<{ Name: string; Payload: Array<Record<string, unknown>> }>;
}

test('agent: FileOperation and ProcessCreate from the kernel sensor reach stdout; the reported status names the eBPF method', { skip: SKIP, timeout: 90_000 }, async () => {
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'h-ebpf-agent-')));
  const watched = path.join(dir, 'watched');
  mkdirSync(watched);
  writeFileSync(
    path.join(dir, 'edgeguard.yaml'),
    [
      'highPriorityMessageFrequency: PT1S',
      'lowPriorityMessageFrequency: PT1S',
      'snapshotFrequency: PT1H',
      'aggregationEnabledProcessCreate: false',
      `fileOperationsWatchPaths: ["${watched}/"]`,
      'collectorEnabledContainerRuntime: false',
      'collectorEnabledDeploymentManifests: false',
      '',
    ].join('\n'),
  );
  // Started before the agent: not in EdgeGuard's own tree, so not excluded in the kernel.
  const writer: ChildProcess = spawn('sh', ['-c', `read go; echo x > ${watched}/changed; /bin/true h-ebpf-agent-marker`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const env: NodeJS.ProcessEnv = { ...process.env, EDGEGUARD_STATE_DIR: path.join(dir, 'state'), EDGEGUARD_CONFIG: path.join(dir, 'edgeguard.yaml') };
  for (const name of ['IOTEDGE_WORKLOADURI', 'EdgeHubConnectionString', 'IotHubConnectionString']) delete env[name];
  const agent = spawn(process.execPath, [MAIN], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: Message[] = [];
  const invalid: string[] = [];
  let stderr = '';
  let pending = '';
  agent.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        const m = JSON.parse(line) as Message;
        if (validator.validateMessage(m).valid) messages.push(m);
        else invalid.push(line.slice(0, 300));
      } catch {
        invalid.push(line.slice(0, 300));
      }
    }
  });
  agent.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const events = (name: string): Array<Record<string, unknown>> => messages.flatMap((m) => m.Events.filter((e) => e.Name === name).flatMap((e) => e.Payload));
  const waitFor = async (what: string, ok: () => boolean, ms = 30_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${stderr.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const reportedFile = path.join(dir, 'state', 'reported.json');
  const sourceStatus = (name: string): { state?: string; method?: string } | undefined => {
    try {
      return JSON.parse(readFileSync(reportedFile, 'utf8'))[STATUS_KEY].sources[name];
    } catch {
      return undefined;
    }
  };
  try {
    await waitFor('FileOperations running', () => sourceStatus('FileOperations')?.state === 'running');
    await waitFor('ProcessEvents on the sensor', () => /eBPF/.test(sourceStatus('ProcessEvents')?.method ?? ''));
    writer.stdin!.end('go\n');
    await waitFor('the FileOperation on stdout', () => events('FileOperation').some((p) => p.Path === path.join(watched, 'changed')));
    await waitFor('the ProcessCreate on stdout', () => events('ProcessCreate').some((p) => p.CommandLine === '/bin/true h-ebpf-agent-marker'));
    const op = events('FileOperation').find((p) => p.Path === path.join(watched, 'changed'))!;
    assert.equal(op.Operation, 'OpenForWrite');
    assert.equal(op.ProcessId, writer.pid);
    assert.deepEqual(invalid, []);
    assert.match(sourceStatus('Connections')?.method ?? '', /eBPF/);
  } finally {
    writer.kill();
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});
