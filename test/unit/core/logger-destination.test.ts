import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

const LOGGER = path.resolve(__dirname, '../../../src/core/logger.js');

function run(destination: string): { stdout: string; stderr: string } {
  const script = `const l=require(${JSON.stringify(LOGGER)}); ${destination ? `l.setLogDestination('${destination}');` : ''} l.getLogger('t').info('hello', {SharedAccessKey: 'x'}); l.getLogger('t').warn('connection HostName=h;SharedAccessKey=c2VjcmV0 failed');`;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return { stdout: result.stdout, stderr: result.stderr };
}

test('logs go to stderr by default (standalone: stdout carries messages) and to stdout when switched (iotedge logs)', () => {
  const standalone = run('');
  assert.equal(standalone.stdout, '');
  assert.match(standalone.stderr, /INFO  \[t\] hello/);
  const module = run('stdout');
  assert.match(module.stdout, /INFO  \[t\] hello/);
  assert.match(module.stdout, /WARN  \[t\] connection HostName=h;SharedAccessKey=\*\*\* failed/);
  assert.ok(!module.stdout.includes('c2VjcmV0'));
});
