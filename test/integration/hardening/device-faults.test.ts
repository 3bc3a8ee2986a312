import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import { test } from 'node:test';
import { builtAgentSkipReason } from '../../harness/agent-process';
import { fillFileSystem, metricValue, scrapeMetrics, tmpfsStateDir, unmountAndRemove } from '../../harness/device-faults';
import { freePort } from '../../harness/free-port';
import { QUIET_SOURCES, sleep, StandaloneAgent } from '../../harness/standalone-agent';

// Issue 11, beyond the list: the state directory full (ENOSPC), on a small tmpfs.
test('state directory full (ENOSPC on a 4 MB tmpfs): the agent keeps sending from memory, reports what it could not persist, and recovers by itself', { timeout: 120_000 }, async (t) => {
  const skip = builtAgentSkipReason();
  if (skip) return t.skip(`SKIP: ${skip}`);
  const staged = tmpfsStateDir('edgeguard-devfault-', '4m');
  if ('skip' in staged) {
    console.error(`SKIP: ${staged.skip}`);
    return t.skip(`SKIP: ${staged.skip}`);
  }
  const { dir, state } = staged;
  const port = await freePort();
  const config = ['highPriorityMessageFrequency: PT1S', 'lowPriorityMessageFrequency: PT1S', 'snapshotFrequency: PT1S', QUIET_SOURCES, ''].join('\n');
  const agent = new StandaloneAgent(config, { dir, env: { EDGEGUARD_METRICS_LISTEN: `127.0.0.1:${port}` } });
  // One hook, in order: the agent must be gone before its file system can be unmounted.
  t.after(async () => {
    await agent.stop(true).catch(() => undefined);
    unmountAndRemove(state, dir);
  });
  await agent.waitFor('the first message', () => agent.messages().length > 0);
  assert.equal(metricValue(await scrapeMetrics(port), 'edgeguard_journal_persisting'), 1);

  // Full.
  const filler = fillFileSystem(state);
  const fullSince = Date.now();
  await agent.waitFor('the journal failure logged', () => agent.lines.some((l) => l.includes('queue journal cannot be written') && l.includes('ENOSPC')), 20_000);
  let sentBefore = agent.messages().length;
  await sleep(3000);
  assert.ok(agent.messages().length > sentBefore, 'messages keep coming while the disk is full');
  const full = await scrapeMetrics(port);
  assert.equal(metricValue(full, 'edgeguard_journal_persisting'), 0);
  assert.ok(metricValue(full, 'edgeguard_journal_unpersisted_records_total') > 0, 'what could not be persisted is counted');
  // One warning per failure episode, never one per write: a full rewrite of the live records can fit in
  // what a dropped torn segment frees on the tmpfs, so the journal may recover ("writable again") and fail
  // again on the next append; each episode is logged once.
  const failuresLogged = agent.lines.filter((l) => l.includes('queue journal cannot be written')).length;
  const recoveriesLogged = agent.lines.filter((l) => l.includes('queue journal writable again')).length;
  assert.ok(failuresLogged >= 1, 'the failure is logged');
  assert.equal(failuresLogged, recoveriesLogged + 1, `logged once per failure episode, not once per write (${failuresLogged} warnings, ${recoveriesLogged} recoveries)`);
  assert.ok(failuresLogged <= 3, `no flood of warnings (${failuresLogged} in ${Math.round((Date.now() - fullSince) / 1000)} s)`);

  // Space comes back.
  unlinkSync(filler);
  const recoveredAfterFree = (): boolean => agent.lines.filter((l) => l.includes('queue journal writable again')).length > recoveriesLogged;
  await agent.waitFor('the journal writable again', recoveredAfterFree, 20_000);
  assert.equal(metricValue(await scrapeMetrics(port), 'edgeguard_journal_persisting'), 1);

  // A read-only remount cannot be staged here: Linux refuses `mount -o remount,ro` (EBUSY) while the agent
  // holds its journal open for writing; the kernel's own errors=remount-ro gives EROFS on the same write
  // path as ENOSPC above (Journal.writeFailed does not look at the code).
  assert.ok(agent.process.running);
  assert.equal(await agent.stop(true), 0);
});
