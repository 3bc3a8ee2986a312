import assert from 'node:assert/strict';
import '../../harness/docker-host';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CONFIG_KEY } from '../../../src/config/settings';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { STATUS_KEY } from '../../../src/agent/property-reporter';
import { referenceSchemaDir } from '../../harness/paths';
import { builtAgentPath, skipUnlessBuilt } from '../../harness/agent-process';
import { freePort } from '../../harness/free-port';
import { standaloneEnvironment } from '../../harness/standalone-agent';

const validator = createSchemaValidator(referenceSchemaDir());
const MAIN = builtAgentPath();

interface Message {
  AgentId: string;
  Events: Array<{ Name: string; Payload: Array<Record<string, unknown>> }>;
}

/** The built agent as a child process, standalone: stdout parsed as messages, stderr kept as log text. */
class AgentProcess {
  readonly messages: Message[] = [];
  readonly invalid: string[] = [];
  stderr = '';
  private readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(dir: string, extraEnv: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [MAIN], { cwd: dir, env: standaloneEnvironment(dir, extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
    let pending = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        try {
          const message = JSON.parse(line) as Message;
          const result = validator.validateMessage(message);
          if (result.valid) this.messages.push(message);
          else this.invalid.push(`${result.errors.join('; ')} :: ${line.slice(0, 300)}`);
        } catch {
          this.invalid.push(`not JSON: ${line.slice(0, 300)}`);
        }
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  events(name: string): Message['Events'] {
    return this.messages.flatMap((m) => m.Events.filter((e) => e.Name === name));
  }

  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  async waitFor(what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- stderr ---\n${this.stderr.slice(-3000)}`);
      if (this.child.exitCode !== null) throw new Error(`agent exited (${this.child.exitCode}) while waiting for ${what}\n${this.stderr.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

async function exitWithin(agent: AgentProcess, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  const code = await Promise.race([agent.exited, timeout]);
  clearTimeout(timer);
  if (code === 'timeout') throw new Error(`agent did not exit within ${ms} ms\n${agent.stderr.slice(-3000)}`);
  return code;
}

function setupDir(t: { after(fn: () => void): void }, config: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-agent-'));
  writeFileSync(path.join(dir, 'edgeguard.yaml'), config);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const FAST = 'highPriorityMessageFrequency: PT1S\nlowPriorityMessageFrequency: PT1S\nsnapshotFrequency: PT1S\n';

test('standalone agent: schema-valid messages on stdout within seconds, live config file, SIGTERM exits 0', { timeout: 90_000 }, async (t) => {
  if (skipUnlessBuilt(t)) return;
  const dir = setupDir(t, FAST + 'logLevel: debug\n');
  const agent = new AgentProcess(dir, { EDGEGUARD_LOG_LEVEL: 'info' });
  t.after(() => agent.kill());

  const started = Date.now();
  await agent.waitFor('a SystemInformation event on stdout', () => agent.events('SystemInformation').length > 0);
  assert.ok(Date.now() - started < 20_000);
  await agent.waitFor('a second SystemInformation snapshot (PT1S)', () => agent.events('SystemInformation').length >= 2);
  assert.deepEqual(agent.invalid, [], 'every stdout line is a schema-valid message (logs go to stderr)');
  await agent.waitFor('debug lines (the file logLevel overrides EDGEGUARD_LOG_LEVEL=info)', () => / DEBUG /.test(agent.stderr));
  assert.match(agent.stderr, /EdgeGuard starting version=\S+ mode=standalone agentId=[0-9a-f-]{36} stateDir=\S+ hostRoot=\//);

  // Reported properties: full effective configuration and status in <stateDir>/reported.json.
  const reportedFile = path.join(dir, 'state', 'reported.json');
  await agent.waitFor('reported.json', () => existsSync(reportedFile));
  await agent.waitFor('SystemInformation running in reported.json', () => {
    try {
      return JSON.parse(readFileSync(reportedFile, 'utf8'))[STATUS_KEY].sources.SystemInformation.state === 'running';
    } catch {
      return false;
    }
  });
  const reported = JSON.parse(readFileSync(reportedFile, 'utf8'));
  assert.deepEqual(reported[CONFIG_KEY].snapshotFrequency, { value: 'PT1S' });
  assert.deepEqual(reported[CONFIG_KEY].maxMessageSizeInBytes, { value: 204800 });
  assert.equal(reported[STATUS_KEY].mode, 'standalone');

  // Edit the file: a bad value gives a ConfigurationError message and a reported error, the rest applies.
  writeFileSync(path.join(dir, 'edgeguard.yaml'), FAST + 'logLevel: debug\neventPriorityLogin: Sometimes\nmaxMessageSizeInBytes: 16384\n');
  const later = new Date(Date.now() + 2000);
  utimesSync(path.join(dir, 'edgeguard.yaml'), later, later);
  await agent.waitFor('a ConfigurationError event', () => agent.events('ConfigurationError').some((e) => e.Payload.some((p) => p.ConfigurationName === 'eventPriorityLogin')));
  const error = agent.events('ConfigurationError').flatMap((e) => e.Payload).find((p) => p.ConfigurationName === 'eventPriorityLogin')!;
  assert.equal(error.ErrorType, 'TypeMismatch');
  assert.equal(error.UsedConfiguration, 'High');
  await agent.waitFor('the error and new size in reported.json', () => {
    const doc = JSON.parse(readFileSync(reportedFile, 'utf8'));
    return doc[STATUS_KEY].configurationErrors.eventPriorityLogin?.errorType === 'TypeMismatch' && doc[CONFIG_KEY].maxMessageSizeInBytes.value === 16384;
  });
  const errorLogs = agent.stderr.split('\n').filter((l) => l.includes('configuration problem') && l.includes('eventPriorityLogin'));
  assert.equal(errorLogs.length, 1, 'logged once');

  agent.signal('SIGTERM');
  assert.equal(await exitWithin(agent, 15_000), 0);
  assert.match(agent.stderr, /stopped/);
  assert.deepEqual(agent.invalid, []);
});

test('SIGTERM flushes queued events; AgentId is the same across runs', { timeout: 90_000 }, async (t) => {
  if (skipUnlessBuilt(t)) return;
  // Long frequencies: nothing is sent until the SIGTERM flush.
  const dir = setupDir(t, 'highPriorityMessageFrequency: PT1H\nlowPriorityMessageFrequency: PT1H\nsnapshotFrequency: PT1H\ncollectorEnabledProcessEvents: false\n');
  const first = new AgentProcess(dir);
  t.after(() => first.kill());
  await first.waitFor('the agent running', () => first.stderr.includes('EdgeGuard running'));
  await first.waitFor('the first snapshot ingested', () => /SystemInformation/.test(readQueueText(dir)) || first.messages.length > 0, 10_000).catch(() => undefined);
  assert.equal(first.events('SystemInformation').length, 0, 'nothing sent before the signal');
  first.signal('SIGTERM');
  assert.equal(await exitWithin(first, 15_000), 0);
  assert.equal(first.events('SystemInformation').length, 1, 'the queued SystemInformation was flushed on SIGTERM');
  const agentId = first.messages[0]!.AgentId;
  assert.equal(readFileSync(path.join(dir, 'state', 'agent-id'), 'utf8').trim(), agentId);

  writeFileSync(path.join(dir, 'edgeguard.yaml'), FAST);
  const second = new AgentProcess(dir);
  t.after(() => second.kill());
  await second.waitFor('a message from the second run', () => second.messages.length > 0);
  second.signal('SIGTERM');
  assert.equal(await exitWithin(second, 15_000), 0);
  assert.ok(second.messages.length > 0);
  for (const m of second.messages) assert.equal(m.AgentId, agentId);
  assert.ok(second.stderr.includes(`agentId=${agentId}`));
});

/** The queue journal's text, to see that an event was ingested before it is sent (format-agnostic grep). */
function readQueueText(dir: string): string {
  try {
    const queues = path.join(dir, 'state', 'queues');
    return readdirSync(queues)
      .map((f) => readFileSync(path.join(queues, f), 'utf8'))
      .join('\n');
  } catch {
    return '';
  }
}

test('EDGEGUARD_METRICS_LISTEN: the agent serves Prometheus metrics on loopback', { timeout: 60_000 }, async (t) => {
  if (skipUnlessBuilt(t)) return;
  const dir = setupDir(t, FAST);
  const port = await freePort();
  const agent = new AgentProcess(dir, { EDGEGUARD_METRICS_LISTEN: `127.0.0.1:${port}` });
  t.after(() => agent.kill());
  await agent.waitFor('a message', () => agent.messages.length > 0);
  await agent.waitFor('the metrics endpoint', () => agent.stderr.includes('metrics endpoint listening'));
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  const text = await response.text();
  // prom-client: every series carries IoT Edge's module labels after its own.
  assert.match(text, /^edgeguard_source_state\{source="SystemInformation",state="running",iothub="[^"]*",edge_device="[^"]*",instance_number="[0-9a-f-]{36}",module_name="edgeguard"\} 1$/m);
  assert.match(text, /^edgeguard_upstream_connected\{[^}]*module_name="edgeguard"\} 1$/m);
  assert.match(text, /^edgeguard_events_ingested_total\{[^}]*\} [1-9]\d*$/m);
  assert.match(text, /^process_resident_memory_bytes\{[^}]*module_name="edgeguard"\} \d+$/m, 'default process metrics');
  agent.signal('SIGTERM');
  assert.equal(await exitWithin(agent, 15_000), 0);
});

test('a second agent on the same state directory refuses to start with a clear error; the first keeps running', { timeout: 60_000 }, async (t) => {
  if (skipUnlessBuilt(t)) return;
  const dir = setupDir(t, 'collectorEnabledProcessEvents: false\ncollectorEnabledContainerRuntime: false\ncollectorEnabledDeploymentManifests: false\n');
  const first = new AgentProcess(dir);
  t.after(() => first.signal('SIGKILL'));
  await first.waitFor('the first agent running', () => first.stderr.includes('EdgeGuard running'));
  const second = new AgentProcess(dir);
  t.after(() => second.signal('SIGKILL'));
  assert.equal(await exitWithin(second, 20_000), 1);
  assert.match(second.stderr, /EdgeGuard cannot start .*is used by another EdgeGuard \(pid \d+\)/);
  first.signal('SIGTERM');
  assert.equal(await exitWithin(first, 20_000), 0);
  assert.equal(existsSync(path.join(dir, 'state', 'agent.lock')), false, 'the lock is released on a clean stop');
  // After a clean stop the directory is free again.
  const third = new AgentProcess(dir);
  t.after(() => third.signal('SIGKILL'));
  await third.waitFor('a later agent running', () => third.stderr.includes('EdgeGuard running'));
  third.signal('SIGTERM');
  assert.equal(await exitWithin(third, 20_000), 0);
});
