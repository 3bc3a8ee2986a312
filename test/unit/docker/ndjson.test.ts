import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NdjsonSplitter, type NdjsonProblem } from '../../../src/sources/docker/ndjson';

function collect(maxLineBytes?: number) {
  const lines: string[] = [];
  const problems: NdjsonProblem[] = [];
  const splitter = new NdjsonSplitter((l) => lines.push(l), (p) => problems.push(p), maxLineBytes);
  return { lines, problems, splitter };
}

const RECORDS = [
  JSON.stringify({ Type: 'container', Action: 'create', Actor: { ID: 'a', Attributes: { name: 'x' } }, timeNano: 1 }),
  JSON.stringify({ Type: 'container', Action: 'exec_create: sh -c "echo ünïcödé ✓"', timeNano: 2 }),
  JSON.stringify({ Type: 'image', Action: 'pull', timeNano: 3 }),
];

describe('NdjsonSplitter', () => {
  test('every split of the stream, at every byte, gives the same lines', () => {
    const bytes = Buffer.from(RECORDS.join('\n') + '\n', 'utf8');
    for (let i = 0; i <= bytes.length; i++) {
      for (const j of [i, Math.min(bytes.length, i + 1), Math.min(bytes.length, i + 7)]) {
        const { lines, problems, splitter } = collect();
        splitter.push(bytes.subarray(0, i));
        splitter.push(bytes.subarray(i, j));
        splitter.push(bytes.subarray(j));
        assert.deepEqual(lines, RECORDS, `split at ${i}/${j}`);
        assert.equal(problems.length, 0);
      }
    }
  });

  test('one byte at a time, including inside multi-byte characters', () => {
    const bytes = Buffer.from(RECORDS.join('\n') + '\n', 'utf8');
    const { lines, splitter } = collect();
    for (const b of bytes) splitter.push(Buffer.from([b]));
    assert.deepEqual(lines, RECORDS);
  });

  test('many records in one chunk, blank and CRLF lines', () => {
    const { lines, splitter } = collect();
    splitter.push(`${RECORDS[0]}\n\n\r\n${RECORDS[1]}\r\n${RECORDS[2]}`);
    assert.deepEqual(lines.length, 2, 'the last line has no newline yet');
    splitter.end();
    assert.equal(lines.length, 3);
    assert.equal(lines[1], `${RECORDS[1]}\r`, 'CR kept: JSON.parse ignores it as whitespace');
    assert.deepEqual(JSON.parse(lines[1]!), JSON.parse(RECORDS[1]!));
  });

  test('an over-long line is dropped whole, once, and the next line is read', () => {
    const { lines, problems, splitter } = collect(64);
    splitter.push('{"a":"' + 'x'.repeat(50));
    splitter.push('y'.repeat(100));
    splitter.push('z'.repeat(100) + '"}\n' + RECORDS[2] + '\n');
    assert.deepEqual(lines, [RECORDS[2]]);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.kind, 'line-too-long');
    assert.equal(problems[0]!.bytes, 6 + 50 + 100 + 100 + 2);
  });

  test('memory stays bounded while an endless line streams in', () => {
    const { lines, problems, splitter } = collect(1024);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 160; i++) splitter.push(chunk); // 10 MiB without a newline
    assert.equal((splitter as unknown as { pendingBytes: number }).pendingBytes, 0);
    splitter.push('\n{"ok":1}\n');
    assert.deepEqual(lines, ['{"ok":1}']);
    assert.equal(problems.length, 1);
  });

  test('reset forgets a partial line', () => {
    const { lines, splitter } = collect();
    splitter.push('{"half":');
    splitter.reset();
    splitter.push('{"whole":1}\n');
    assert.deepEqual(lines, ['{"whole":1}']);
  });
});
