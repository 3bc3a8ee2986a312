import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { confinedHostPath } from '../../../src/core/host-path';
import { readRegularFile, readRegularPrefix, UnsafeFileError } from '../../../src/core/safe-read';
import { escapeControl, escapeJsonOutput } from '../../../src/core/text-escape';
import { seededRandom } from '../../../src/core/seeded-random';
import { loadYaml, YamlError } from '../../../src/core/yaml';
import { mergeCaseVariants } from '../../../src/rules/case-keys';
import { echoName, echoValue } from '../../../src/rules/echo';
import { globMatch } from '../../../src/rules/overrides';
import { replaceTemplatePlaceholders } from '../../../src/rules/template-placeholders';

function randomText(next: () => number, alphabet: string, max: number): string {
  const n = Math.floor(next() * max);
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet[Math.floor(next() * alphabet.length)];
  return out;
}

function timed(run: () => void): number {
  const started = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

describe('template placeholders (linear replacement of /"?\\$\\{[^}]*\\}"?/g)', () => {
  test('the same result as the regex on 5,000 random strings', () => {
    const next = seededRandom(11);
    for (let i = 0; i < 5000; i++) {
      const text = randomText(next, '${}"a', 40);
      assert.equal(replaceTemplatePlaceholders(text, 'null'), text.replace(/"?\$\{[^}]*\}"?/g, 'null'), JSON.stringify(text));
    }
  });

  test('300 KB of "${" without "}" in well under a second', () => {
    const text = '${'.repeat(150_000);
    assert.ok(timed(() => replaceTemplatePlaceholders(text, 'null')) < 1000);
    assert.ok(timed(() => replaceTemplatePlaceholders(`"${'${'.repeat(150_000)}}"`, 'null')) < 1000);
  });
});

describe('module patterns in rule settings (globMatch, no regex)', () => {
  test('the same answers as the `.*` regex on 5,000 random pattern/name pairs', () => {
    const next = seededRandom(7);
    for (let i = 0; i < 5000; i++) {
      const pattern = randomText(next, 'ab*', 8);
      const name = randomText(next, 'ab', 10);
      const re = new RegExp(`^${pattern.split('*').join('.*')}$`);
      assert.equal(globMatch(pattern, name), pattern.includes('*') ? re.test(name) : pattern === name, `${pattern} ~ ${name}`);
    }
  });

  test('*a*a*…*b against 10,000 a: fast (the regex form backtracks for minutes)', () => {
    const pattern = `${'*a'.repeat(50)}*b`;
    assert.ok(timed(() => assert.equal(globMatch(pattern, 'a'.repeat(10_000)), false)) < 1000);
  });
});

describe('safe reader', () => {
  test('FIFO and character device refused without blocking; regular file read; cap enforced while reading', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-safe-read-'));
    try {
      const fifo = path.join(dir, 'fifo');
      if (spawnSync('mkfifo', [fifo]).status === 0) {
        assert.throws(() => readRegularFile(fifo, 1024), (e: Error) => e instanceof UnsafeFileError && e.code === 'ENOTREG' && /FIFO/.test(e.message));
      }
      assert.throws(() => readRegularFile('/dev/zero', 1024), (e: Error) => e instanceof UnsafeFileError && /character device/.test(e.message));
      assert.throws(() => readRegularPrefix('/dev/zero', 1024), UnsafeFileError);
      assert.throws(() => readRegularFile(dir, 1024), (e: Error) => e instanceof UnsafeFileError && e.code === 'EISDIR');
      writeFileSync(path.join(dir, 'f'), 'x'.repeat(2000));
      assert.equal(readRegularFile(path.join(dir, 'f'), 2000).length, 2000);
      assert.throws(() => readRegularFile(path.join(dir, 'f'), 1999), (e: Error) => e instanceof UnsafeFileError && e.code === 'EFBIG');
      assert.equal(readRegularPrefix(path.join(dir, 'f'), 10).toString(), 'x'.repeat(10));
      // /proc files report size 0 and are read up to the cap; the cap is checked while reading.
      assert.ok(readRegularFile('/proc/self/status', 1024 * 1024).toString().includes('Pid:'));
      assert.throws(() => readRegularFile('/proc/self/status', 16), (e: Error) => e instanceof UnsafeFileError && e.code === 'EFBIG');
      assert.equal(readRegularPrefix('/proc/self/status', 16).length, 16);
      // Growing past the first 4 KB buffer: a /proc file (size 0) and a regular file larger than 4 KB.
      const maps = readRegularFile('/proc/self/maps', 1024 * 1024).toString();
      assert.ok(maps.length > 4096 && maps.endsWith('\n'), `read whole: ${maps.length} bytes`);
      assert.equal(readRegularPrefix('/proc/self/maps', 5000).length, 5000);
      writeFileSync(path.join(dir, 'big'), 'y'.repeat(10_000));
      assert.equal(readRegularFile(path.join(dir, 'big'), 10_000).toString(), 'y'.repeat(10_000));
      assert.equal(readRegularPrefix(path.join(dir, 'big'), 9_000).length, 9_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('host paths confined to the host root', () => {
  test('.. stops at the host root; absolute and relative links resolve inside it; a loop is ELOOP', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-host-root-'));
    try {
      mkdirSync(path.join(root, 'var/log'), { recursive: true });
      mkdirSync(path.join(root, 'etc'), { recursive: true });
      assert.equal(confinedHostPath(root, '/../../../etc/shadow'), path.join(root, 'etc/shadow'));
      assert.equal(confinedHostPath(root, 'var/../../../x'), path.join(root, 'x'));
      symlinkSync('/etc/passwd', path.join(root, 'var/log/abs'));
      assert.equal(confinedHostPath(root, '/var/log/abs'), path.join(root, 'etc/passwd'));
      symlinkSync('../../../../../../../../proc/self/environ', path.join(root, 'var/log/rel'));
      assert.equal(confinedHostPath(root, '/var/log/rel'), path.join(root, 'proc/self/environ'));
      symlinkSync('/etc', path.join(root, 'etclink'));
      assert.equal(confinedHostPath(root, '/etclink/../var/log/x'), path.join(root, 'var/log/x'));
      symlinkSync('loop2', path.join(root, 'loop1'));
      symlinkSync('loop1', path.join(root, 'loop2'));
      assert.throws(() => confinedHostPath(root, '/loop1/x'), (e: NodeJS.ErrnoException) => e.code === 'ELOOP');
      assert.equal(confinedHostPath('/', '/../etc/passwd'), '/etc/passwd');
      // lstat semantics: the last link is kept, the ones before it are followed inside the root.
      assert.equal(confinedHostPath(root, '/var/log/abs', { followFinal: false }), path.join(root, 'var/log/abs'));
      assert.equal(confinedHostPath(root, '/etclink/passwd', { followFinal: false }), path.join(root, 'etc/passwd'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('glob expansion bounds', () => {
  test('links that multiply paths without a loop are cut by the entry budget, and say so', async () => {
    const { expandGlob } = await import('../../../src/core/glob');
    const root = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-glob-'));
    try {
      // d0 -> five links to d1 -> five links to d2 …: 5^6 paths to the same few directories.
      for (let level = 0; level <= 6; level++) mkdirSync(path.join(root, `d${level}`));
      for (let level = 0; level < 6; level++) for (let i = 0; i < 5; i++) symlinkSync(path.join(root, `d${level + 1}`), path.join(root, `d${level}`, `l${i}`));
      writeFileSync(path.join(root, 'd6', 'x.json'), '{}');
      const limited = await expandGlob('d0/**/*.json', root, { maxEntries: 500, maxDepth: 32 });
      assert.match(limited.incomplete ?? '', /stopped after 500 directory entries/);
      const deep = await expandGlob('d0/**/*.json', root, { maxEntries: 1_000_000, maxDepth: 3 });
      assert.match(deep.incomplete ?? '', /3 directory levels/);
      const plain = await expandGlob('d6/*.json', root);
      assert.deepEqual(plain, { files: ['d6/x.json'], incomplete: undefined });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('host view keeps lstat semantics under the confinement', () => {
  test('a symbolic link in /etc to a world-writable file is a link, not a world-writable file', async () => {
    const { HostView } = await import('../../../src/sources/host/baseline/host-view');
    const { worldWritable } = await import('../../../src/sources/host/baseline/evaluators');
    const { chmodSync } = await import('node:fs');
    const root = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-host-view-'));
    try {
      for (const d of ['etc', 'tmp', 'usr/bin']) mkdirSync(path.join(root, d), { recursive: true });
      writeFileSync(path.join(root, 'tmp/open'), 'x');
      chmodSync(path.join(root, 'tmp/open'), 0o666);
      symlinkSync('/tmp/open', path.join(root, 'etc/link'));
      const view = new HostView(root, { worldWritableScanLimit: 1000 });
      assert.ok(view.lstat('/etc/link')!.isSymbolicLink());
      assert.ok(view.stat('/etc/link')!.isFile());
      assert.equal(worldWritable(view).result, 'Pass', worldWritable(view).detail);
      writeFileSync(path.join(root, 'etc/real'), 'x');
      chmodSync(path.join(root, 'etc/real'), 0o666);
      assert.match(worldWritable(view).detail, /\/etc\/real/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('YAML reading', () => {
  test('aliases refused, with the place; deep nesting refused; plain YAML and JSON read', () => {
    assert.deepEqual(loadYaml('a: 1\nb: [x, y]\n'), { a: 1, b: ['x', 'y'] });
    assert.deepEqual(loadYaml('{"a": {"value": 2}}'), { a: { value: 2 } });
    assert.throws(() => loadYaml('a: &x [1]\nb: *x\n'), (e: Error) => e instanceof YamlError && /aliases/.test(e.message) && e.line === 2);
    assert.throws(() => loadYaml(`${'['.repeat(1000)}${']'.repeat(1000)}`), YamlError);
  });
});

describe('text shown to people', () => {
  test('control characters, C1 and bidi controls are escaped; JSON output stays the same value', () => {
    assert.equal(escapeControl('a\u001b[2Jb\rc\u009b\u202e'), 'a\\x1b[2Jb\\rc\\x9b\\u202e');
    assert.equal(escapeControl('plain /path:1.0'), 'plain /path:1.0');
    const json = JSON.stringify({ m: 'x\u009by\u202ez\u007f' });
    const escaped = escapeJsonOutput(json);
    assert.ok(!/[\u007f-\u009f\u202e]/.test(escaped));
    assert.deepEqual(JSON.parse(escaped), { m: 'x\u009by\u202ez\u007f' });
  });

  test('log lines: one line per entry, control characters escaped', () => {
    const { getLogger } = require('../../../src/core/logger') as typeof import('../../../src/core/logger');
    const written: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    const originalOut = process.stdout.write.bind(process.stdout);
    const capture = (chunk: string | Uint8Array): boolean => (written.push(String(chunk)), true);
    process.stderr.write = capture as typeof process.stderr.write;
    process.stdout.write = capture as typeof process.stdout.write;
    try {
      getLogger('test').error('bad\nFORGED INFO line\u001b[2J', { file: 'a\u001b]0;x\u0007' });
    } finally {
      process.stderr.write = original;
      process.stdout.write = originalOut;
    }
    const line = written.join('');
    assert.ok(line.includes('bad\\nFORGED INFO line\\x1b[2J'), line);
    assert.ok(!/[\u0000-\u0009\u000b-\u001f]/.test(line), 'raw control characters in the log line');
    assert.equal(line.trimEnd().split('\n').length, 1);
  });

  test('finding messages: credentials never echoed, names only when plain, values bounded', () => {
    assert.match(echoValue('https://admin:PASSWORD@host/x?y=z'), /not shown/);
    assert.match(echoValue('admin:pw@registry.example.com/img:1'), /not shown/);
    assert.match(echoValue('HostName=h;SharedAccessKey=abc'), /not shown/);
    assert.equal(echoValue('always'), '"always"');
    assert.equal(echoValue('x'.repeat(500)).length, 103, 'quotes, 100 characters and an ellipsis');
    assert.equal(echoName('DB_PASSWORD'), 'DB_PASSWORD');
    assert.equal(echoName('https://admin:PASSWORD@host/x?y'), undefined);
    assert.equal(echoName('a b'), undefined);
    assert.equal(echoValue('myacr.azurecr.io/sensor:1.0@sha256:abc'), '"myacr.azurecr.io/sensor:1.0@sha256:abc"');
  });
});

describe('keys differing only in case', () => {
  test('last spelling wins, objects merge, lists join; each collision reported', () => {
    const seen: string[] = [];
    const merged = mergeCaseVariants(
      { HostConfig: { Privileged: false, Binds: ['/a:/a'] }, hostconfig: { privileged: true, binds: ['/b:/b'], Memory: 1 }, User: '1000' },
      ['$'],
      (p, spellings) => seen.push(`${p.join('.')}:${spellings.join('|')}`),
    );
    assert.deepEqual(merged, { hostconfig: { privileged: true, binds: ['/a:/a', '/b:/b'], Memory: 1 }, User: '1000' });
    assert.deepEqual(seen.sort(), ['$.hostconfig.binds:Binds|binds', '$.hostconfig.privileged:Privileged|privileged', '$.hostconfig:HostConfig|hostconfig']);
    const plain = { a: { b: [1, { c: 2 }] } };
    assert.equal(mergeCaseVariants(plain, []), plain, 'unchanged input is returned as it is');
  });
});
