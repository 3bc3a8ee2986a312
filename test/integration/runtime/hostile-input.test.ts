import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { AgentProcess, skipUnlessBuilt } from '../../harness/agent-process';
import { reportedSourceStatus } from '../../harness/reported-status';
import { printedMessages, standaloneEnvironment, type PrintedMessage } from '../../harness/standalone-agent';
import { cleanDeployment, moduleDef } from '../../unit/rules/fixtures';

/**
 * Hostile input through the agent process (standalone): files named in its settings that are
 * special (/dev/zero, FIFOs), loop (symbolic links), are regex-hungry or alias bombs, or lead out
 * of the host root. The agent must keep running and sending, say what is wrong in its status and
 * log, and stay within its memory budget. On the commit before the hardening it hung, crashed or
 * grew to gigabytes on each of these.
 */

/** Far below what the hostile inputs cost before (16.8 GB for /dev/zero, 1.8 GB for the alias bomb). */
const RSS_LIMIT_KB = 600 * 1024;

class Agent {
  readonly process: AgentProcess;
  peakRssKb = 0;
  private readonly watchdog: NodeJS.Timeout;

  constructor(
    readonly dir: string,
    env: Record<string, string> = {},
  ) {
    this.process = new AgentProcess(standaloneEnvironment(dir, env));
    running.push(this);
    // A runaway reader is killed before it hurts the shared machine; the test then fails on the RSS.
    this.watchdog = setInterval(() => {
      const rss = this.rssKb();
      if (rss > this.peakRssKb) this.peakRssKb = rss;
      if (rss > RSS_LIMIT_KB * 2) void this.process.stop('SIGKILL').catch(() => undefined);
    }, 50);
  }

  rssKb(): number {
    try {
      const status = readFileSync(`/proc/${this.process.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      return 0;
    }
  }

  events(name: string): PrintedMessage['Events'] {
    return printedMessages(this.process.lines).flatMap((m) => m.Events.filter((e) => e.Name === name));
  }

  sourceStatus(name: string): ReturnType<typeof reportedSourceStatus> {
    return reportedSourceStatus(path.join(this.dir, 'state'), name);
  }

  async waitFor(what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (!this.process.running) throw new Error(`agent exited while waiting for ${what} (peak RSS ${this.peakRssKb} kB)\n${this.process.tail()}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (peak RSS ${this.peakRssKb} kB)\n${this.process.tail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.watchdog);
    if (this.process.running) await this.process.stop('SIGTERM').catch(() => this.process.stop('SIGKILL').catch(() => undefined));
  }
}

/** Agents started in each test: stopped before their directory is removed. */
const running: Agent[] = [];

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-hostile-agent-'));
  t.after(async () => {
    for (const agent of running.splice(0)) await agent.stop();
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  });
  return dir;
}

function mkfifo(file: string): boolean {
  return spawnSync('mkfifo', [file]).status === 0;
}

/** Few sources, fast cadence: what these tests watch, and the SystemInformation heartbeat. */
const QUIET = [
  'highPriorityMessageFrequency: PT1S',
  'lowPriorityMessageFrequency: PT1S',
  'snapshotFrequency: PT2S',
  'collectorEnabledProcessEvents: false',
  'collectorEnabledConnections: false',
  'collectorEnabledListeningPorts: false',
  'collectorEnabledContainerRuntime: false',
  'collectorEnabledKernelModules: false',
  'collectorEnabledOSBaseline: false',
  'manifestAnalyseRunningDeployment: false',
  'manifestPollInterval: PT1S',
].join('\n');

test('manifestSources naming /dev/zero, a FIFO, a file over the cap and a symlink-loop glob: degraded status, no hang, bounded memory', { timeout: 90_000 }, async (t) => {
  if (skipUnlessBuilt(t)) return;
  const dir = tempDir(t);
  const fifo = path.join(dir, 'pipe.json');
  if (!mkfifo(fifo)) {
    t.skip('mkfifo not available');
    return;
  }
  writeFileSync(path.join(dir, 'big.json'), `{"pad":"${'x'.repeat(5 * 1024 * 1024)}"}`);
  mkdirSync(path.join(dir, 'm/sub'), { recursive: true });
  symlinkSync('..', path.join(dir, 'm/sub/up'));
  const d = cleanDeployment();
  moduleDef(d, 'sensor').settings.createOptions = { HostConfig: { Privileged: true } };
  writeFileSync(path.join(dir, 'm/sub/deploy.json'), JSON.stringify(d));
  const sources = ['/dev/zero', fifo, path.join(dir, 'big.json'), path.join(dir, 'm/**/*.json')];
  writeFileSync(path.join(dir, 'edgeguard.yaml'), `${QUIET}\nmanifestSources: ${JSON.stringify(sources)}\n`);

  const agent = new Agent(dir);
  await agent.waitFor('a DeploymentManifestAnalysis event with the C01 of the real manifest', () =>
    agent.events('DeploymentManifestAnalysis').some((e) => e.Payload.some((p) => p.RuleId === 'C01' && String(p.Source).endsWith('deploy.json'))),
  );
  await agent.waitFor('DeploymentManifests degraded with the reasons', () => /character device/.test(agent.sourceStatus('DeploymentManifests')?.reason ?? ''));
  const status = agent.sourceStatus('DeploymentManifests')!;
  assert.equal(status.state, 'degraded');
  assert.match(status.reason!, /\/dev\/zero: is a character device, not a regular file/);
  assert.match(status.reason!, /pipe\.json: is a FIFO \(named pipe\), not a regular file/);
  assert.match(status.reason!, /big\.json: is larger than 4194304 bytes/);
  assert.ok(agent.process.lines.some((l) => / WARN .*deployment manifests: problems .*character device/.test(l)), 'a warning in the log');
  // Still alive and sending after several polls.
  const before = agent.events('SystemInformation').length;
  await agent.waitFor('more SystemInformation snapshots', () => agent.events('SystemInformation').length > before + 1);
  assert.ok(agent.peakRssKb < RSS_LIMIT_KB, `peak RSS ${agent.peakRssKb} kB`);
  assert.equal(agent.events('DeploymentManifestAnalysis').flatMap((e) => e.Payload).filter((p) => p.RuleId === 'C01').length >= 1, true);
});

test('a template manifest with 300 KB of "${" does not block the event loop; nor does a greedy override pattern', { timeout: 90_000 }, async (t) => {
  if (skipUnlessBuilt(t)) return;
  const dir = tempDir(t);
  const d = cleanDeployment();
  (d as Record<string, unknown>)['$schema-template'] = '4.0.0';
  moduleDef(d, 'sensor').settings.createOptions = '{"Env":["' + '${'.repeat(150_000) + '"]';
  const desired = d.modulesContent.$edgeAgent['properties.desired'];
  const name = 'a'.repeat(60);
  desired.modules[name] = JSON.parse(JSON.stringify(desired.modules.sensor));
  desired.modules[name].settings.image = 'myacr.azurecr.io/sensor:2.1.0';
  writeFileSync(path.join(dir, 'redos.template.json'), JSON.stringify(d));
  const overrides = JSON.stringify({ rules: { I02: { enabled: false, modules: [`${'*a'.repeat(20)}*b`] } } });
  writeFileSync(path.join(dir, 'edgeguard.yaml'), `${QUIET}\nmanifestSources: [${JSON.stringify(path.join(dir, 'redos.template.json'))}]\nmanifestRuleOverrides: '${overrides}'\n`);
  const agent = new Agent(dir);
  const started = Date.now();
  await agent.waitFor('the M02 finding of the template', () => agent.events('DeploymentManifestAnalysis').some((e) => e.Payload.some((p) => p.RuleId === 'M02')), 20_000);
  // Before: 48.8 s of blocked event loop for the template, 11.9 s per override match.
  assert.ok(Date.now() - started < 20_000);
  const snapshots = agent.events('SystemInformation').length;
  await agent.waitFor('SystemInformation keeps flowing', () => agent.events('SystemInformation').length > snapshots, 10_000);
});

test('a 4 MB manifest with findings on 15,000 modules: analysed in seconds, memory bounded, at most 1,000 findings sent', { timeout: 120_000 }, async (t) => {
  if (skipUnlessBuilt(t)) return;
  const dir = tempDir(t);
  const d = cleanDeployment();
  const modules = d.modulesContent.$edgeAgent['properties.desired'].modules;
  for (let i = 0; i < 15_000; i++) modules[`m${i}`] = { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: `myacr.azurecr.io/sensor:${i}`, createOptions: '{"HostConfig":{}}' } };
  const file = path.join(dir, 'big.deployment.json');
  writeFileSync(file, JSON.stringify(d));
  writeFileSync(path.join(dir, 'edgeguard.yaml'), `${QUIET}\nmanifestSources: [${JSON.stringify(file)}]\n`);
  const agent = new Agent(dir);
  const items = () => agent.events('DeploymentManifestAnalysis').flatMap((e) => e.Payload);
  // The pipeline splits the event over messages of maxMessageSizeInBytes: count the items of the first analysis.
  await agent.waitFor('the first analysis sent', () => items().length >= 1000, 60_000);
  const first = items().slice(0, 1000);
  assert.equal(first[0]!.Severity, 'Medium', 'most severe first');
  assert.equal(new Set(first.map((p) => `${p.RuleId} ${p.Module}`)).size, 1000, 'the first 1,000 items are one analysis, not repeats');
  assert.ok(agent.events('DeploymentManifestAnalysis').every((e) => e.Payload.length <= 1000));
  await agent.waitFor('the status saying findings were left out', () => /left out/.test(agent.sourceStatus('DeploymentManifests')?.reason ?? ''));
  // Before: quadratic (10 s for 8,000 modules) and 342 MB for a 4 MB manifest; the module's limit is 256 MB.
  assert.ok(agent.peakRssKb < 300 * 1024, `peak RSS ${agent.peakRssKb} kB`);
});

test('the standalone configuration file: an alias bomb or a FIFO is refused with an error, the agent runs on defaults', { timeout: 90_000 }, async (t) => {
  if (skipUnlessBuilt(t)) return;
  const dir = tempDir(t);
  let bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
  const L = 'abcdefghij';
  for (let i = 1; i < 10; i++) bomb += `${L[i]}: &${L[i]} [${Array(9).fill('*' + L[i - 1]).join(',')}]\n`;
  writeFileSync(path.join(dir, 'edgeguard.yaml'), bomb);
  const agent = new Agent(dir);
  await agent.waitFor('the configuration error in the log', () => agent.process.lines.some((l) => /YAML aliases \(\*name\) are not accepted/.test(l)));
  await agent.waitFor('messages on the defaults', () => agent.events('SystemInformation').length > 0, 30_000);
  assert.ok(agent.peakRssKb < RSS_LIMIT_KB, `peak RSS ${agent.peakRssKb} kB`);
  await agent.stop();

  const fifoDir = tempDir(t);
  if (!mkfifo(path.join(fifoDir, 'edgeguard.yaml'))) return;
  const second = new Agent(fifoDir);
  await second.waitFor('the FIFO named in the log', () => second.process.lines.some((l) => /edgeguard\.yaml: is a FIFO \(named pipe\), not a regular file/.test(l)));
  await second.waitFor('messages on the defaults', () => second.events('SystemInformation').length > 0, 30_000);
});

test('login files from settings cannot lead out of the host root (.. or an absolute symbolic link)', { timeout: 90_000 }, async (t) => {
  if (skipUnlessBuilt(t)) return;
  const dir = tempDir(t);
  const hostRoot = path.join(dir, 'host');
  const outside = path.join(dir, 'outside');
  mkdirSync(path.join(hostRoot, 'var/log'), { recursive: true });
  mkdirSync(outside, { recursive: true });
  const line = (pid: number) => `2026-11-23T10:00:00.123456+00:00 gw sshd[${pid}]: Failed password for root from 192.0.2.77 port 4000 ssh2\n`;
  writeFileSync(path.join(outside, 'secret.log'), line(7001));
  writeFileSync(path.join(outside, 'other.log'), line(7002));
  // An attacker on the host points the followed log at a file of EdgeGuard's own container.
  symlinkSync(path.join(outside, 'secret.log'), path.join(hostRoot, 'var/log/auth.log'));
  const dots = `/../../../../../../../..${outside}/other.log`;
  writeFileSync(path.join(hostRoot, 'var/log/inside.log'), line(7003));
  const fifo = mkfifo(path.join(hostRoot, 'var/log/btmp'));
  writeFileSync(
    path.join(dir, 'edgeguard.yaml'),
    `${QUIET}\ncollectorEnabledDeploymentManifests: false\nloginReadExistingRecords: true\nloginPollInterval: PT1S\nloginWtmpFile: ''\nloginBtmpFile: ${fifo ? '/var/log/btmp' : "''"}\nloginAuthLogFiles: ['/var/log/auth.log', ${JSON.stringify(dots)}, '/var/log/inside.log']\n`,
  );
  const agent = new Agent(dir, { EDGEGUARD_HOST_ROOT: hostRoot });
  await agent.waitFor('the Login event of the file inside the host root', () => agent.events('Login').some((e) => e.Payload.some((p) => p.ProcessId === 7003)));
  await agent.waitFor('a second snapshot', () => agent.events('SystemInformation').length >= 2);
  const pids = agent.events('Login').flatMap((e) => e.Payload.map((p) => p.ProcessId));
  assert.ok(!pids.includes(7001), 'the symbolic link was followed out of the host root');
  assert.ok(!pids.includes(7002), '.. led out of the host root');
  if (fifo) {
    // A FIFO where btmp should be: named in the status, never waited on.
    await agent.waitFor('the FIFO in the Logins status', () => /\/var\/log\/btmp: is a FIFO/.test(agent.sourceStatus('Logins')?.reason ?? ''));
    assert.equal(agent.sourceStatus('Logins')?.state, 'degraded');
  }
});
