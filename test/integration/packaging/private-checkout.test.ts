import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot, sharedDir } from '../../harness/paths';

/**
 * A new user's checkout: a clone in a `mktemp -d` (mode 0700, like a clone under /root), where uid
 * 65534 cannot enter. The test that drops to uid 65534 must still run from there.
 */
test('from a clone in a 0700 mktemp -d, the uid-65534 test still runs and passes', async (t) => {
  if (process.getuid?.() !== 0) {
    const reason = 'SKIPPED: needs root to drop a child to uid 65534';
    console.error(reason);
    return t.skip(reason);
  }
  const root = repoRoot();
  if (!existsSync(path.join(root, '.git'))) {
    const reason = `SKIPPED: ${root} is not a git checkout`;
    console.error(reason);
    return t.skip(reason);
  }
  const parent = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-private-'));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  chmodSync(parent, 0o700);
  assert.equal(statSync(parent).mode & 0o777, 0o700);
  const clone = path.join(parent, 'edgeguard');
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', root, clone], { stdio: 'ignore' });
  // The build output and the dependencies of this checkout stand in for `npm ci && npm run build` in the clone.
  cpSync(path.join(root, 'dist'), path.join(clone, 'dist'), { recursive: true });
  symlinkSync(path.join(root, 'node_modules'), path.join(clone, 'node_modules'));
  symlinkSync(sharedDir(), path.join(parent, 'shared')); // as CI lays shared/ beside the clone
  const testFile = path.join(clone, 'dist', 'test', 'integration', 'host', 'connections.test.js');
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // a test run of its own, not a subtest of this one
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', '--test-name-pattern=uid 65534', testFile], { cwd: clone, env, encoding: 'utf8', timeout: 120_000 });
  const output = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, output);
  // Run, not skipped (the others are skipped by the name pattern).
  assert.match(r.stdout, /^ok \d+ - live: without permission to read other processes' fds \(uid 65534\), [^#\n]*$/m, output);
  assert.match(r.stdout, /^# fail 0$/m, output);
});
