import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PriorityQueues, QUEUE_NAMES, queueCapacities } from '../../../../src/pipeline/queues/priority-queues';
import { encodeRanges } from '../../../../src/pipeline/journal/journal-records';
import type { MessagePriority } from '../../../../src/core/transport';
import { CapturingLogger, FakeClock, login, tempDir } from '../helpers';

function open(dir: string, cacheBytes = 100_000, log = new CapturingLogger()) {
  const clock = new FakeClock();
  return { clock, log, queues: new PriorityQueues({ dir, cacheBytes, clock, log }) };
}

function contents(q: PriorityQueues, name: MessagePriority): string[] {
  const out: string[] = [];
  for (let i = 0; i < q.length(name); i++) out.push(q.at(name, i)!.json);
  return out;
}

const segments = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('segment-'));

test('the budget is shared 50/40/10, with room for operational events even in the smallest cache', () => {
  assert.deepEqual(queueCapacities(2_560_000), { High: 1_280_000, Low: 1_024_000, Operational: 256_000 });
  const smallest = queueCapacities(8192);
  assert.equal(smallest.Operational, 2048);
  assert.equal(smallest.High + smallest.Low + smallest.Operational, 8192);
  assert.ok(smallest.High > smallest.Low);
});

test('sizes are UTF-8 bytes; a full queue drops its oldest, counted', (t) => {
  const { queues } = open(tempDir(t), 10_000);
  assert.deepEqual(QUEUE_NAMES.map((n) => queues.capacity(n)), [4417, 3535, 2048]);
  const event = (i: number) => JSON.stringify({ n: i, text: 'é'.repeat(40) }); // 2 bytes per é
  const bytes = Buffer.byteLength(event(1000));
  assert.ok(bytes > event(1000).length + 30);
  for (let i = 1000; i < 1100; i++) queues.push('Low', event(i));
  const kept = Math.floor(3535 / bytes);
  assert.equal(queues.length('Low'), kept);
  assert.equal(queues.droppedCount('Low'), 100 - kept);
  assert.equal(queues.collectedCount('Low'), 100);
  assert.equal(JSON.parse(queues.at('Low', 0)!.json).n, 1100 - kept, 'the oldest went first');
  assert.ok(queues.bytes('Low') <= 3535);
  assert.equal(queues.length('High'), 0);
  // One event larger than its whole queue is dropped alone and counted, the queue is left as it was.
  assert.equal(queues.push('Operational', JSON.stringify({ big: 'x'.repeat(2100) })), false);
  assert.equal(queues.droppedCount('Operational'), 1);
  queues.close();
});

test('shrinking the cache drops the oldest of each queue, counted', (t) => {
  const { queues } = open(tempDir(t), 100_000);
  for (let i = 0; i < 100; i++) queues.push('High', JSON.stringify(login(new FakeClock(), `u${i}`)));
  const before = queues.length('High');
  queues.setCacheSize(8192);
  assert.ok(queues.bytes('High') <= 4096);
  assert.equal(queues.droppedCount('High'), before - queues.length('High'));
  queues.close();
});

test('queued events survive a reopen; acknowledged and dropped ones do not come back', (t) => {
  const dir = tempDir(t);
  const a = open(dir);
  for (let i = 0; i < 10; i++) a.queues.push('Low', JSON.stringify({ i }));
  a.queues.push('High', JSON.stringify({ urgent: true }));
  a.queues.push('Operational', JSON.stringify({ op: 1 }));
  const sent = [a.queues.at('Low', 0)!, a.queues.at('Low', 1)!, a.queues.at('Low', 2)!];
  a.queues.ack('Low', sent);
  a.queues.close();
  const b = open(dir);
  assert.deepEqual(contents(b.queues, 'Low'), Array.from({ length: 7 }, (_, k) => JSON.stringify({ i: k + 3 })));
  assert.deepEqual(contents(b.queues, 'High'), [JSON.stringify({ urgent: true })]);
  assert.deepEqual(contents(b.queues, 'Operational'), [JSON.stringify({ op: 1 })]);
  assert.equal(b.queues.recovered.events, 9);
  // New events get sequence numbers after the recovered ones: acking them must not touch old ones.
  b.queues.push('Low', JSON.stringify({ i: 99 }));
  b.queues.ack('Low', [b.queues.at('Low', 0)!]);
  b.queues.close();
  const c = open(dir);
  assert.deepEqual(contents(c.queues, 'Low'), [...Array.from({ length: 6 }, (_, k) => JSON.stringify({ i: k + 4 })), JSON.stringify({ i: 99 })]);
  c.queues.close();
});

test('the journal is written on a short timer, before any close', async (t) => {
  const dir = tempDir(t);
  const { clock, queues } = open(dir);
  const file = path.join(dir, segments(dir)[0]!);
  // An empty journal starts with one no-op record (journal.ts: a rewrite that writes nothing proves nothing).
  const initial = statSync(file).size;
  queues.push('Low', JSON.stringify({ i: 1 }));
  assert.equal(statSync(file).size, initial, 'batched, not written per event');
  await clock.advance(250);
  assert.ok(statSync(file).size > initial);
  // A crash now (no close) would keep it: a fresh reader sees the event.
  const reader = open(dir);
  assert.deepEqual(contents(reader.queues, 'Low'), [JSON.stringify({ i: 1 })]);
  reader.queues.close();
  queues.close();
});

test('a torn tail and a garbage line are skipped with a warning; every intact record is kept', (t) => {
  const dir = tempDir(t);
  const a = open(dir);
  for (let i = 0; i < 5; i++) a.queues.push('High', JSON.stringify({ i, text: 'näive ☃' }));
  a.queues.close();
  const file = path.join(dir, segments(dir)[0]!);
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').filter(Boolean);
  // Damage record 2 in the middle (same length, wrong bytes) and tear the last record in half.
  const second = lines.findIndex((l) => l.includes('"i":2'));
  lines[second] = lines[second]!.replace('"i":2', '"i":7');
  writeFileSync(file, lines.join('\n') + '\n');
  const size = statSync(file).size;
  truncateSync(file, size - 20);
  appendFileSync(file, Buffer.from([0xff, 0xfe, 0x00, 0x41]));
  const b = open(dir);
  assert.deepEqual(contents(b.queues, 'High'), [0, 1, 3].map((i) => JSON.stringify({ i, text: 'näive ☃' })));
  assert.equal(b.queues.recovered.damagedLines, 1);
  assert.equal(b.queues.recovered.tornTail, true);
  assert.ok(b.log.warnings().some((w) => /damaged/.test(w)));
  b.queues.close();
  // Recovery rewrote a clean journal: the next reader finds no damage.
  const c = open(dir);
  assert.equal(c.queues.recovered.damagedLines, 0);
  assert.equal(c.queues.recovered.tornTail, false);
  assert.equal(c.queues.length('High'), 3);
  c.queues.close();
});

test('a journal of pure garbage or an empty file opens as empty queues', (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'segment-1.log'), 'not a journal\n\u0000\u0001garbage');
  writeFileSync(path.join(dir, 'segment-2.log'), '');
  const { queues, log } = open(dir);
  assert.equal(queues.length('High') + queues.length('Low') + queues.length('Operational'), 0);
  assert.ok(log.warnings().length > 0);
  queues.close();
});

test('compaction keeps the journal near the live size under heavy traffic', async (t) => {
  const dir = tempDir(t);
  const { clock, queues } = open(dir, 200_000);
  const payload = 'x'.repeat(500);
  for (let round = 0; round < 60; round++) {
    for (let i = 0; i < 100; i++) queues.push('Low', JSON.stringify({ round, i, payload }));
    const sent = [];
    for (let i = 0; i < 90; i++) sent.push(queues.at('Low', i)!);
    queues.ack('Low', sent);
    await clock.advance(250);
  }
  const onDisk = segments(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
  assert.ok(onDisk < 1.5 * 1024 * 1024, `journal ${onDisk} bytes after ~3 MB of traffic`);
  const live = queues.length('Low');
  queues.close();
  const again = open(dir, 200_000);
  assert.equal(again.queues.length('Low'), live);
  again.queues.close();
});

test('ranges are encoded compactly', () => {
  assert.equal(encodeRanges([5, 1, 2, 3, 9, 10]), '1-3,5,9-10');
  assert.equal(encodeRanges([7]), '7');
});

test('an unusable state directory leaves working in-memory queues and a warning (retrying) in the log', (t) => {
  const dir = tempDir(t);
  const blocker = path.join(dir, 'not-a-directory');
  writeFileSync(blocker, 'x');
  const { queues, log } = open(path.join(blocker, 'queues'));
  assert.equal(queues.push('High', JSON.stringify({ kept: true })), true);
  assert.equal(queues.length('High'), 1);
  assert.ok(log.lines.some((l) => l.level === 'warn' && /cannot be created.*kept in memory.*retrying every 5 s/.test(l.message)));
  queues.flushJournal();
  queues.close();
});
