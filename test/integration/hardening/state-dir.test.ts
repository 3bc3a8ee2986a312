import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { addLine } from '../../../src/pipeline/journal/journal-records';
import { configurationErrorEvent } from '../../../src/config/config-store';
import { builtAgentSkipReason } from '../../harness/agent-process';
import { QUIET_SOURCES, sleep, StandaloneAgent } from '../../harness/standalone-agent';

// Issue 11 item 10, through the agent process.

const FAST = ['highPriorityMessageFrequency: PT1S', 'lowPriorityMessageFrequency: PT1S', 'snapshotFrequency: PT1S', QUIET_SOURCES, ''].join('\n');

function recordLine(body: string): string {
  return `${crc32(body).toString(16).padStart(8, '0')}\t${body}\n`;
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-statedir-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** [relative path, octal mode, the mode it should have]. */
function modes(root: string): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = [];
  const walk = (p: string) => {
    const st = statSync(p);
    out.push([path.relative(root, p) || '.', (st.mode & 0o777).toString(8), st.isDirectory() ? '700' : '600']);
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(path.join(p, name));
  };
  walk(root);
  return out;
}

test('state directory: existing entries tightened at start, new ones created 0600/0700', { timeout: 60_000 }, async (t) => {
  const skip = builtAgentSkipReason();
  if (skip) return t.skip(`SKIP: ${skip}`);
  const dir = tempDir(t);
  const state = path.join(dir, 'state');
  mkdirSync(path.join(state, 'sources'), { recursive: true, mode: 0o755 });
  chmodSync(state, 0o755);
  writeFileSync(path.join(state, 'agent-id'), '4f7f0c9e-64f5-4b8f-9d43-0d4a3c1e2b11\n', { mode: 0o644 });
  const agent = new StandaloneAgent(FAST, { dir });
  await agent.waitFor('a message (journal written)', () => agent.messages().length > 0);
  await sleep(1500);
  const seen = modes(state);
  assert.equal(await agent.stop(), 0);
  const loose = seen.filter(([, mode, want]) => mode !== want);
  assert.deepEqual(loose, [], `entries readable by others: ${JSON.stringify(seen)}`);
  assert.ok(seen.some(([p]) => p.startsWith('queues')), 'the queue journal was there to check');
});

async function startOnJournal(t: { after(fn: () => void): void }, segment: string): Promise<{ agent: StandaloneAgent; startMs: number }> {
  const dir = tempDir(t);
  const queues = path.join(dir, 'state', 'queues');
  mkdirSync(queues, { recursive: true });
  writeFileSync(path.join(queues, 'segment-1.log'), segment);
  const started = Date.now();
  const agent = new StandaloneAgent(FAST, { dir });
  t.after(() => agent.stop());
  await agent.waitFor('the agent running', () => agent.lines.some((l) => l.includes('EdgeGuard running')), 20_000);
  return { agent, startMs: Date.now() - started };
}

const good = configurationErrorEvent([{ setting: 'x', errorType: 'NotOptimal', usedConfiguration: 'kept', message: 'recovered from the journal', key: 'k' }]);

test('journal: records with a valid CRC but invalid JSON are skipped and counted; the first message stays valid JSON', { timeout: 60_000 }, async (t) => {
  const skip = builtAgentSkipReason();
  if (skip) return t.skip(`SKIP: ${skip}`);
  const { agent } = await startOnJournal(t, addLine('Operational', 1, JSON.stringify(good)) + addLine('Operational', 2, '{"Name":"Broken", "Payload": [') + addLine('Operational', 3, 'not json at all'));
  await agent.waitFor('the recovered event sent', () => agent.lines.some((l) => l.includes(good.Id)), 15_000);
  const printed = agent.lines.filter((l) => l.startsWith('{'));
  for (const line of printed) assert.doesNotThrow(() => JSON.parse(line), `stdout line is not JSON: ${line.slice(0, 200)}`);
  assert.ok(agent.lines.some((l) => /damaged records.*invalidJsonRecords=2/.test(l)), `the skipped records are counted in the log:\n${agent.process.tail(20)}`);
  assert.equal(await agent.stop(), 0);
});

test('journal: a crafted delete line naming 2,000 ranges of 10^7 sequence numbers does not stall start', { timeout: 60_000 }, async (t) => {
  const skip = builtAgentSkipReason();
  if (skip) return t.skip(`SKIP: ${skip}`);
  const ranges = Array.from({ length: 2000 }, (_, i) => `${i * 10_000_000 + 10}-${i * 10_000_000 + 9_999_999}`).join(',');
  const { agent, startMs } = await startOnJournal(t, addLine('Operational', 1, JSON.stringify(good)) + recordLine(`D\t${ranges}`));
  assert.ok(startMs < 15_000, `start took ${startMs} ms`);
  await agent.waitFor('the recovered event sent', () => agent.lines.some((l) => l.includes(good.Id)), 15_000);
  assert.equal(await agent.stop(), 0);
});

test('lock: a stale lock whose pid now runs an unrelated Node process is taken over', { timeout: 60_000 }, async (t) => {
  const skip = builtAgentSkipReason();
  if (skip) return t.skip(`SKIP: ${skip}`);
  const dir = tempDir(t);
  const unrelated = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  t.after(() => unrelated.kill('SIGKILL'));
  mkdirSync(path.join(dir, 'state'), { recursive: true });
  writeFileSync(path.join(dir, 'state', 'agent.lock'), `${unrelated.pid}\n`);
  const agent = new StandaloneAgent(FAST, { dir });
  await agent.waitFor('the agent running despite the stale lock', () => agent.lines.some((l) => l.includes('EdgeGuard running')), 20_000);
  assert.ok(agent.lines.some((l) => l.includes('stale state directory lock taken over')));
  assert.equal(await agent.stop(), 0);
});
