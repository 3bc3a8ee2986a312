import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DeferredJournal } from '../../../../src/pipeline/journal/deferred-journal';
import { Journal, RECOVERY_EVERY_MS } from '../../../../src/pipeline/journal/journal';

test('deferred journal: counts what it cannot persist, retries every 5 s (not sooner), then writes the live records and takes over', (t) => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-deferred-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  // A file where the journal directory should be: creating the journal fails like a read-only directory.
  const dir = path.join(base, 'queues');
  writeFileSync(dir, 'x');
  let now = 0;
  const journal = new DeferredJournal(dir, Object.assign(new Error('ro'), { code: 'EROFS' }), undefined, () => now);
  assert.deepEqual(journal.health(), { persisting: false, unpersistedRecords: 0, writeFailures: 1, lastError: 'EROFS' });
  journal.appendAdd('High', 1, '{"a":1}');
  journal.appendAdd('Low', 2, '{"b":2}');
  const live = () => [{ queue: 'High' as const, seq: 1, json: '{"a":1}' }, { queue: 'Low' as const, seq: 2, json: '{"b":2}' }];
  now = RECOVERY_EVERY_MS;
  journal.flush(0, live);
  assert.equal(journal.health().persisting, false, 'still failing while the directory is unusable');
  assert.equal(journal.health().writeFailures, 2);
  assert.equal(journal.health().lastError, 'EEXIST');

  rmSync(dir);
  now = RECOVERY_EVERY_MS + 1000;
  journal.flush(0, live);
  assert.equal(readdirSync(base).includes('queues'), false, 'no retry sooner than 5 s after the last one');

  now = 2 * RECOVERY_EVERY_MS;
  journal.flush(0, live);
  const health = journal.health();
  assert.equal(health.persisting, true);
  assert.equal(health.unpersistedRecords, 2, 'what was not persisted while failing stays counted');
  journal.appendAdd('High', 3, '{"c":3}');
  journal.close();
  const recovered = Journal.recover(dir);
  assert.deepEqual(recovered.records.map((r) => r.seq).sort(), [1, 2, 3], 'the live records and the later ones are on disk');
});

test('deferred journal: not created while the state directory lock is not held, even when the directory is writable', (t) => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-deferred-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const dir = path.join(base, 'queues');
  let now = 0;
  let lockHeld = false;
  const journal = new DeferredJournal(dir, Object.assign(new Error('ro'), { code: 'EROFS' }), undefined, () => now, () => lockHeld);
  journal.appendAdd('High', 1, '{"a":1}');
  const live = () => [{ queue: 'High' as const, seq: 1, json: '{"a":1}' }];
  now = RECOVERY_EVERY_MS;
  journal.flush(0, live);
  assert.equal(readdirSync(base).includes('queues'), false, 'another agent may hold the directory: no journal beside its own');
  assert.equal(journal.health().persisting, false);

  lockHeld = true;
  now = 2 * RECOVERY_EVERY_MS;
  journal.flush(0, live);
  assert.equal(journal.health().persisting, true, 'created once the lock is held');
  journal.close();
  assert.deepEqual(Journal.recover(dir).records.map((r) => r.seq), [1]);
});
