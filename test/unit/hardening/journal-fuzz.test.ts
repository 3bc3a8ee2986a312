import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { Journal } from '../../../src/pipeline/journal/journal';
import { addLine, deleteLine, hitsLine, windowLine } from '../../../src/pipeline/journal/journal-records';
import { createEvent } from '../../../src/core/event';
import type { MessagePriority } from '../../../src/core/priority';
import { seededRandom } from '../../../src/core/seeded-random';

// Issue 11, beyond the list: the journal reader over mutated segments (bit flips, truncation, garbage
// and crafted lines) never throws, stays fast, and never hands back a record that is not a JSON object.

function signed(body: string): string {
  return `${crc32(body).toString(16).padStart(8, '0')}\t${body}\n`;
}

/** A plausible segment: adds, deletes, aggregation windows and hit updates. */
function segment(r: () => number): { text: string; seqs: Set<number> } {
  const queues: MessagePriority[] = ['High', 'Low', 'Operational'];
  const lines: string[] = [];
  const seqs = new Set<number>();
  for (let seq = 1; seq <= 60; seq++) {
    seqs.add(seq);
    const e = createEvent('Login', 'Triggered', [{ UserName: `u${seq}`, Executable: '/usr/sbin/sshd', Operation: 'Login', Result: 'Success', ProcessId: seq }]);
    lines.push(addLine(queues[seq % 3]!, seq, JSON.stringify(e)));
    if (r() < 0.2) lines.push(deleteLine([seq - 1, seq - 2].filter((s) => s > 0)));
    if (r() < 0.1) lines.push(windowLine({ seq: 1000 + seq, json: JSON.stringify({ name: 'ProcessCreate', count: 1 }) }));
    if (r() < 0.1) lines.push(hitsLine([[1000 + seq, 2, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00+00:00']]));
  }
  return { text: lines.join(''), seqs };
}

const CRAFTED = [
  signed(`D\t${Array.from({ length: 5000 }, (_, i) => `${i * 1e9}-${i * 1e9 + 999_999_999}`).join(',')}`),
  signed('D\t1-999999999999999'),
  signed(`D\t${Array.from({ length: 200 }, (_, i) => `${i * 1e7 + 1}-${i * 1e7 + 9_999_999}`).join(',')}`),
  signed('D\t5-1'),
  signed('D\t' + ','.repeat(100_000)),
  signed('A\tHigh\t7\t{"broken": '),
  signed('A\tHigh\t8\t[1,2,3]'),
  signed('A\tNope\t9\t{}'),
  signed('A\tHigh\tNaN\t{}'),
  signed('A\tHigh\t1e400\t{}'),
  signed('K\t12\tnot json'),
  signed('H\t' + '['.repeat(50_000)),
  signed('H\t[[1,2,3]]'),
  signed('Z\tunknown record kind'),
  'x'.repeat(300_000) + '\n',
  '\t'.repeat(1000) + '\n',
  '\u0000\u0001\u0002\n',
];

function mutate(text: string, r: () => number): string {
  const buf = Buffer.from(text, 'utf8');
  const kind = Math.floor(r() * 5);
  if (kind === 0) {
    for (let i = 0; i < 1 + Math.floor(r() * 20); i++) {
      const at = Math.floor(r() * buf.length);
      buf[at] = buf[at]! ^ (1 << Math.floor(r() * 8));
    }
    return buf.toString('latin1');
  }
  if (kind === 1) return text.slice(0, Math.floor(r() * text.length));
  if (kind === 2) {
    const lines = text.split('\n');
    const at = Math.floor(r() * lines.length);
    lines.splice(at, 0, CRAFTED[Math.floor(r() * CRAFTED.length)]!.replace(/\n$/, ''));
    return lines.join('\n');
  }
  if (kind === 3) {
    const lines = text.split('\n');
    for (let i = lines.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    }
    return lines.join('\n');
  }
  return text + CRAFTED.join('');
}

test('journal fuzz: 400 mutated segments; recover never throws, stays fast, returns only JSON-object records of known seqs', { timeout: 120_000 }, (t) => {
  const seed = Number(process.env.EDGEGUARD_FUZZ_SEED ?? 11);
  const r = seededRandom(seed);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-journal-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (let i = 0; i < 400; i++) {
    const queues = path.join(dir, String(i));
    mkdirSync(queues);
    const { text, seqs } = segment(r);
    writeFileSync(path.join(queues, 'segment-1.log'), mutate(text, r), 'latin1');
    if (r() < 0.3) writeFileSync(path.join(queues, 'segment-2.log'), mutate(text, r), 'latin1');
    const started = performance.now();
    let report;
    try {
      report = Journal.recover(queues);
    } catch (error) {
      assert.fail(`seed ${seed} case ${i}: recover threw ${String(error)}`);
    }
    const ms = performance.now() - started;
    assert.ok(ms < 1500, `seed ${seed} case ${i}: recover took ${Math.round(ms)} ms`);
    for (const rec of report.records) {
      assert.ok(seqs.has(rec.seq), `seed ${seed} case ${i}: unknown seq ${rec.seq}`);
      const parsed: unknown = JSON.parse(rec.json);
      assert.ok(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed), `seed ${seed} case ${i}: record ${rec.seq} is not a JSON object`);
    }
    // The journal rebuilt from what was recovered reads back the same records.
    const journal = Journal.create(queues, [...report.records, ...report.windows]);
    journal.close();
    const again = Journal.recover(queues);
    assert.deepEqual(again.records.map((x) => x.seq).sort((a, b) => a - b), report.records.map((x) => x.seq).sort((a, b) => a - b));
    assert.equal(again.damagedLines, 0);
    rmSync(queues, { recursive: true, force: true });
  }
});
