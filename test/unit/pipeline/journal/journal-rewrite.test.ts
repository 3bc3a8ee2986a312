import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Journal } from '../../../../src/pipeline/journal/journal';
import { hitsLine } from '../../../../src/pipeline/journal/journal-records';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const base = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-rewrite-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  return path.join(base, 'queues');
}

test('journal: an empty rewrite still writes one record (proof the disk takes data) that replays to nothing', (t) => {
  const dir = tempDir(t);
  const journal = Journal.create(dir, []);
  journal.close();
  const segments = readdirSync(dir);
  assert.deepEqual(segments, ['segment-1.log']);
  assert.equal(readFileSync(path.join(dir, 'segment-1.log'), 'utf8'), hitsLine([]));
  const recovered = Journal.recover(dir);
  assert.deepEqual(recovered.records, []);
  assert.deepEqual(recovered.windows, []);
  assert.equal(recovered.damagedLines, 0);
  assert.equal(recovered.tornTail, false);
});

test('journal: an empty rewrite deletes the older generations; a later start replays only what came after', (t) => {
  const dir = tempDir(t);
  const first = Journal.create(dir, []);
  first.appendAdd('High', 1, '{"a":1}');
  first.appendAdd('Low', 2, '{"b":2}');
  first.appendDelete([1, 2]);
  first.close();
  assert.deepEqual(Journal.recover(dir).records, [], 'everything was acknowledged');

  const second = Journal.create(dir, Journal.recover(dir).records);
  assert.deepEqual(readdirSync(dir), ['segment-2.log'], 'the older generation is gone');
  second.appendAdd('High', 3, '{"c":3}');
  second.close();
  const recovered = Journal.recover(dir);
  assert.deepEqual(recovered.records.map((r) => r.seq), [3]);
  assert.equal(recovered.damagedLines, 0);
});

test('journal: a rewrite with records writes them and no probe record', (t) => {
  const dir = tempDir(t);
  const journal = Journal.create(dir, [{ queue: 'High', seq: 7, json: '{"x":7}' }]);
  journal.close();
  const text = readFileSync(path.join(dir, 'segment-1.log'), 'utf8');
  assert.equal(text.split('\n').filter((l) => l.length > 0).length, 1);
  assert.ok(!text.includes(hitsLine([])));
  assert.deepEqual(Journal.recover(dir).records.map((r) => r.seq), [7]);
});
