import assert from 'node:assert/strict';
import { test } from 'node:test';
import { watchStateHealth, type StateHealth } from '../../../src/agent/state-watch';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('state health watch: a change is reported once; no change, no report; nothing after stop', async (t) => {
  let health: StateHealth = { writable: false, lock: 'not written', agentId: 'generated, not stored', persisting: false };
  let reports = 0;
  const stop = watchStateHealth(() => health, () => reports++, 20);
  t.after(stop);
  await sleep(100);
  assert.equal(reports, 0, 'unchanged: nothing to report');
  health = { ...health, persisting: true };
  await sleep(100);
  assert.equal(reports, 1, 'the journal persisting again is reported, once');
  health = { writable: true, lock: 'held', agentId: 'stored', persisting: true };
  await sleep(100);
  assert.equal(reports, 2, 'the directory taken over is reported');
  stop();
  health = { ...health, persisting: false };
  await sleep(100);
  assert.equal(reports, 2, 'stopped: no more reports');
});
