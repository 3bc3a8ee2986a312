import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { processToken } from '../../../src/agent/state';
import { builtAgentSkipReason } from '../../harness/agent-process';
import { sleep, StandaloneAgent } from '../../harness/standalone-agent';
import { RECOVERY_EVERY_MS } from '../../../src/pipeline/journal/journal';
import { fillFileSystem, metricValue, scrapeMetrics, tmpfsStateDir, unmountAndRemove } from '../../harness/device-faults';
import { freePort } from '../../harness/free-port';

/** Polls a metric until it has `value` (a metric that can change is never judged on one sample). */
async function waitForMetric(port: number, name: string, value: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = NaN;
  while (Date.now() < deadline) {
    last = metricValue(await scrapeMetrics(port), name);
    if (last === value) return;
    await sleep(200);
  }
  assert.fail(`${name} stayed ${last}, not ${value}, for ${timeoutMs} ms`);
}

const CONFIG = [
  'highPriorityMessageFrequency: PT1S',
  'lowPriorityMessageFrequency: PT1S',
  'snapshotFrequency: PT1S',
  ...['ProcessEvents', 'Connections', 'ContainerRuntime', 'DeploymentManifests', 'OSBaseline', 'KernelModules', 'FirewallConfiguration', 'Logins'].map((n) => `collectorEnabled${n}: false`),
  '',
].join('\n');

/**
 * Waits for the status (standalone: reported.json) to say the state directory is taken over. It is
 * reported when it changes (src/agent/state-watch.ts), not at the 30 s refresh: 15 s is ample.
 */
async function waitForStatus(agent: StandaloneAgent, reportedFile: string): Promise<void> {
  await agent.waitFor('the status written', () => {
    try {
      const s = (JSON.parse(readFileSync(reportedFile, 'utf8')) as { edgeguard_status?: { stateDirectory?: Record<string, unknown> } }).edgeguard_status?.stateDirectory;
      return s?.writable === true && s.persisting === true && s.lock === 'held' && s.agentId === 'stored';
    } catch {
      return false;
    }
  }, 15_000);
}

const STORED_ID = '0d2a7c1e-5b8f-4a3e-9c6d-1f2e3a4b5c6d';

// Issue 11, beyond the list: a state directory that is read-only AT START (a tmpfs mounted ro, holding an agent id).
test('state directory read-only at start: the agent runs from memory with its stored agent id, says so, and takes over the directory once it is writable', { timeout: 120_000 }, async (t) => {
  const skip = builtAgentSkipReason();
  if (skip) return t.skip(`SKIP: ${skip}`);
  const staged = tmpfsStateDir('edgeguard-devfault-start-', '1m');
  if ('skip' in staged) {
    console.error(`SKIP: ${staged.skip}`);
    return t.skip(`SKIP: ${staged.skip}`);
  }
  const { dir, state } = staged;
  writeFileSync(path.join(state, 'agent-id'), `${STORED_ID}\n`, { mode: 0o600 });
  execFileSync('mount', ['-o', 'remount,ro', state]);
  const port = await freePort();
  const agent = new StandaloneAgent(CONFIG, { dir, env: { EDGEGUARD_METRICS_LISTEN: `127.0.0.1:${port}` } });
  t.after(async () => {
    await agent.stop(true).catch(() => undefined);
    unmountAndRemove(state, dir);
  });

  await agent.waitFor('the first message', () => agent.messages().length > 0, 30_000);
  assert.ok(agent.process.running, 'a read-only state directory does not stop the agent');
  assert.ok(agent.lines.some((l) => l.includes('state directory cannot be written') && l.includes('EROFS')), 'a clear warning names the cause');
  assert.ok(agent.lines.some((l) => l.includes('queue journal cannot be created')), 'the journal says it runs from memory');
  assert.equal(agent.messages()[0]?.AgentId, STORED_ID, 'the stored agent id is used');
  const ro = await scrapeMetrics(port);
  assert.equal(metricValue(ro, 'edgeguard_journal_persisting'), 0);
  assert.ok(metricValue(ro, 'edgeguard_journal_unpersisted_records_total') > 0, 'events not persisted are counted');
  assert.equal(existsSync(path.join(state, 'queues')), false);

  // The directory becomes writable: journal created, queued events persisted, lock taken, status written.
  execFileSync('mount', ['-o', 'remount,rw', state]);
  await agent.waitFor('the journal created', () => agent.lines.some((l) => l.includes('queue journal created')), 20_000);
  await agent.waitFor('the lock taken', () => agent.lines.some((l) => l.includes('state directory writable again')), 20_000);
  await waitForMetric(port, 'edgeguard_journal_persisting', 1, 20_000);
  assert.ok(readdirSync(path.join(state, 'queues')).length > 0, 'the journal is on disk');
  assert.match(readFileSync(path.join(state, 'agent.lock'), 'utf8'), new RegExp(`^${agent.process.pid} `));
  await waitForStatus(agent, path.join(state, 'reported.json'));
  assert.equal(readFileSync(path.join(state, 'agent-id'), 'utf8').trim(), STORED_ID);
  assert.equal(await agent.stop(true), 0);
});

// The lock stays honest: a live agent's readable lock on a read-only directory still refuses the start.
test('state directory read-only at start with a live agent\'s lock: the start is refused with a clear error', { timeout: 60_000 }, async (t) => {
  const skip = builtAgentSkipReason();
  if (skip) return t.skip(`SKIP: ${skip}`);
  const staged = tmpfsStateDir('edgeguard-devfault-lock-', '1m');
  if ('skip' in staged) {
    console.error(`SKIP: ${staged.skip}`);
    return t.skip(`SKIP: ${staged.skip}`);
  }
  const { dir, state } = staged;
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  let agent: StandaloneAgent | undefined;
  t.after(async () => {
    holder.kill('SIGKILL');
    await agent?.stop(true).catch(() => undefined);
    unmountAndRemove(state, dir);
  });
  writeFileSync(path.join(state, 'agent.lock'), `${holder.pid} ${processToken(holder.pid!)}\n`, { mode: 0o600 });
  execFileSync('mount', ['-o', 'remount,ro', state]);
  agent = new StandaloneAgent(CONFIG, { dir });
  const started = agent;
  await started.waitFor('the agent to exit', () => !started.process.running, 30_000);
  assert.notEqual(await started.process.stop(), 0, 'the start is refused');
  assert.ok(started.lines.some((l) => l.includes(`used by another EdgeGuard (pid ${holder.pid})`)), 'the error names the live holder');
});

// Full at start, with no agent id stored: a generated id, said in the status, stored once space returns.
test('state directory full at start (ENOSPC): the agent runs from memory with a generated agent id and stores it, the journal and the lock once space returns', { timeout: 120_000 }, async (t) => {
  const skip = builtAgentSkipReason();
  if (skip) return t.skip(`SKIP: ${skip}`);
  const staged = tmpfsStateDir('edgeguard-devfault-full-', '1m');
  if ('skip' in staged) {
    console.error(`SKIP: ${staged.skip}`);
    return t.skip(`SKIP: ${staged.skip}`);
  }
  const { dir, state } = staged;
  const filler = fillFileSystem(state);
  const port = await freePort();
  const agent = new StandaloneAgent(CONFIG, { dir, env: { EDGEGUARD_METRICS_LISTEN: `127.0.0.1:${port}` } });
  t.after(async () => {
    await agent.stop(true).catch(() => undefined);
    unmountAndRemove(state, dir);
  });
  await agent.waitFor('the first message', () => agent.messages().length > 0, 30_000);
  assert.ok(agent.process.running, 'a full state directory does not stop the agent');
  const warning = agent.lines.find((l) => l.includes('state directory cannot be written'));
  assert.ok(warning?.includes('ENOSPC') && warning.includes('generated, not stored'), `a clear warning: ${warning}`);
  // An empty file can still be created on a full tmpfs, but no byte can be written to it: the journal
  // must not count an empty segment as a working journal (it did, and reported persisting 1 until its
  // first append failed, and again after every retry that found nothing queued).
  const journalWarning = agent.lines.find((l) => l.includes('queue journal cannot be created'));
  assert.ok(journalWarning?.includes('ENOSPC'), `the journal says it runs from memory, and why: ${journalWarning}`);
  const id = agent.messages()[0]?.AgentId;
  assert.match(id ?? '', /^[0-9a-f-]{36}$/);
  // While the disk stays full, nothing can recover: every sample over two retry periods (5 s each) says
  // so, and no recovery is logged.
  const fullUntil = Date.now() + 2 * RECOVERY_EVERY_MS + 1000;
  const samples: number[] = [];
  while (Date.now() < fullUntil) {
    samples.push(metricValue(await scrapeMetrics(port), 'edgeguard_journal_persisting'));
    await sleep(250);
  }
  assert.ok(samples.length > 0 && samples.every((v) => v === 0), `persisting stays 0 while the disk is full: ${samples.join(',')}`);
  assert.ok(metricValue(await scrapeMetrics(port), 'edgeguard_journal_unpersisted_records_total') > 0, 'events not persisted are counted');
  const recovered = (l: string): boolean => l.includes('queue journal created') || l.includes('queue journal writable again') || l.includes('state directory writable again');
  assert.deepEqual(agent.lines.filter(recovered), [], 'no recovery while the disk is full');
  assert.equal(agent.lines.filter((l) => l.includes('queue journal cannot be')).length, 1, 'one warning for the episode, not one per retry');
  assert.equal(agent.lines.filter((l) => l.includes('state directory cannot be written')).length, 1, 'one warning for the episode, not one per retry');
  assert.deepEqual(agent.lines.filter((l) => l.includes('lock taken over')), [], 'a lock that could not be written is not left behind (and "taken over" at every retry)');

  unlinkSync(filler);
  await agent.waitFor('the journal created', () => agent.lines.some((l) => l.includes('queue journal created')), 20_000);
  await agent.waitFor('the state directory taken over', () => agent.lines.some((l) => l.includes('state directory writable again')), 20_000);
  await waitForMetric(port, 'edgeguard_journal_persisting', 1, 20_000);
  assert.ok(readdirSync(path.join(state, 'queues')).length > 0, 'the journal is on disk');
  assert.equal(readFileSync(path.join(state, 'agent-id'), 'utf8').trim(), id, 'the id in use is the one stored');
  assert.ok(agent.messages().every((m) => m.AgentId === id), 'one agent id throughout');
  assert.match(readFileSync(path.join(state, 'agent.lock'), 'utf8'), new RegExp(`^${agent.process.pid} `));
  await waitForStatus(agent, path.join(state, 'reported.json'));
  assert.equal(await agent.stop(true), 0);
});

// Two agents misconfigured onto one state directory that is read-only at start: neither holds a lock, so
// the lock cannot keep them apart until it is writable; then only the one that takes the lock writes a
// journal there (two journals in one directory would corrupt each other).
test('state directory read-only at start shared by two agents: once writable, one takes the lock and only it writes the journal', { timeout: 120_000 }, async (t) => {
  const skip = builtAgentSkipReason();
  if (skip) return t.skip(`SKIP: ${skip}`);
  const staged = tmpfsStateDir('edgeguard-devfault-two-', '1m');
  if ('skip' in staged) {
    console.error(`SKIP: ${staged.skip}`);
    return t.skip(`SKIP: ${staged.skip}`);
  }
  const { dir, state } = staged;
  writeFileSync(path.join(state, 'agent-id'), `${STORED_ID}\n`, { mode: 0o600 });
  execFileSync('mount', ['-o', 'remount,ro', state]);
  const agents = ['a', 'b'].map((name) => {
    const own = path.join(dir, name);
    mkdirSync(own);
    return new StandaloneAgent(CONFIG, { dir: own, stateDir: state });
  });
  t.after(async () => {
    await Promise.all(agents.map((a) => a.stop(true).catch(() => undefined)));
    unmountAndRemove(state, dir);
  });
  for (const a of agents) await a.waitFor('the first message', () => a.messages().length > 0, 30_000);

  execFileSync('mount', ['-o', 'remount,rw', state]);
  const tookOver = (a: StandaloneAgent): boolean => a.lines.some((l) => l.includes('state directory writable again'));
  const created = (a: StandaloneAgent): boolean => a.lines.some((l) => l.includes('queue journal created'));
  await agents[0]!.waitFor('one agent to take the directory over', () => agents.some(tookOver), 20_000);
  const winner = agents.find(tookOver)!;
  const loser = agents.find((a) => a !== winner)!;
  await winner.waitFor('the winner\'s journal', () => created(winner), 20_000);
  // The loser retries every 5 s: two retry periods and more give it every chance to do the wrong thing.
  await sleep(2 * RECOVERY_EVERY_MS + 2000);
  assert.equal(tookOver(loser), false, 'the lock has one holder');
  assert.equal(created(loser), false, 'no second journal in the directory');
  assert.ok(loser.process.running && winner.process.running, 'both keep running (the loser from memory)');
  assert.match(readFileSync(path.join(state, 'agent.lock'), 'utf8'), new RegExp(`^${winner.process.pid} `));
  assert.equal(await winner.stop(true), 0);
  assert.equal(await loser.stop(true), 0);
});
