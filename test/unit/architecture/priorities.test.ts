import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { packagePath } from '../../../src/core/package-path';
import { tsFilesUnder } from '../../harness/ts-files';

/**
 * Issue 9: the pipeline routes `eventPriority<Name> = Off`; a source that gates on a priority itself
 * freezes the value it read (or reads it only when an event happens to arrive) and hides events from
 * the detections stage, which sees every raw event. No source may read an event priority.
 */
test('no source gates on an event priority (the pipeline routes Off)', () => {
  const root = packagePath('src/sources');
  const files = tsFilesUnder(root);
  assert.ok(files.length > 20, `the sources are found (${files.length} files under ${root})`);
  const offenders = files.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .map((line, i) => ({ line: line.trim(), at: `${path.relative(root, file)}:${i + 1}` }))
      .filter(({ line }) => /\.priority\(|eventPriority[A-Z]/.test(line) && !line.startsWith('//') && !line.startsWith('*')),
  );
  assert.deepEqual(offenders.map((o) => `${o.at}: ${o.line}`), []);
});
