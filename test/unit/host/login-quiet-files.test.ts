import assert from 'node:assert/strict';
import type { Stats } from 'node:fs';
import { test } from 'node:test';
import { QuietFiles, SETTLE_MS } from '../../../src/sources/host/login/quiet-files';

const NOW = 1_800_000_000_000;

/** The fields QuietFiles compares, as a Stats. */
function stat(over: Partial<Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>> = {}): Stats {
  return { dev: 2049, ino: 77, size: 4096, mtimeMs: NOW - 5_000, ctimeMs: NOW - 5_000, ...over } as Stats;
}

test('a file read completely while settled counts as unchanged while every compared field stays the same', () => {
  const q = new QuietFiles();
  assert.equal(q.unchanged('/var/log/auth.log', '/host/var/log/auth.log', stat()), false, 'nothing known before a read');
  q.record('/var/log/auth.log', '/host/var/log/auth.log', stat(), true, NOW);
  assert.equal(q.unchanged('/var/log/auth.log', '/host/var/log/auth.log', stat()), true);
  for (const change of [{ dev: 2050 }, { ino: 78 }, { size: 4097 }, { size: 4095 }, { mtimeMs: NOW - 4_999 }, { ctimeMs: NOW - 4_999.999 }]) {
    assert.equal(q.unchanged('/var/log/auth.log', '/host/var/log/auth.log', stat(change)), false, JSON.stringify(change));
  }
  assert.equal(q.unchanged('/var/log/auth.log', '/host/var/log/other.log', stat()), false, 'a link now resolving elsewhere');
  assert.equal(q.unchanged('/var/log/secure', '/host/var/log/auth.log', stat()), false, 'per followed file');
});

test('a file changed within the settle margin, or in the "future" (clock set back), is read again on every poll', () => {
  const q = new QuietFiles();
  q.record('wtmp', '/w', stat({ ctimeMs: NOW - SETTLE_MS + 1 }), true, NOW);
  assert.equal(q.unchanged('wtmp', '/w', stat({ ctimeMs: NOW - SETTLE_MS + 1 })), false);
  q.record('wtmp', '/w', stat({ ctimeMs: NOW + 60_000 }), true, NOW);
  assert.equal(q.unchanged('wtmp', '/w', stat({ ctimeMs: NOW + 60_000 })), false);
  q.record('wtmp', '/w', stat({ ctimeMs: NOW - SETTLE_MS }), true, NOW);
  assert.equal(q.unchanged('wtmp', '/w', stat({ ctimeMs: NOW - SETTLE_MS })), true);
});

test('a read cut short (a backlog over the per-poll cap) or a failed one leaves nothing to skip', () => {
  const q = new QuietFiles();
  q.record('btmp', '/b', stat(), true, NOW);
  q.record('btmp', '/b', stat(), false, NOW);
  assert.equal(q.unchanged('btmp', '/b', stat()), false, 'the rest of the backlog is read on the next poll');
  q.record('btmp', '/b', stat(), true, NOW);
  q.forget('btmp');
  assert.equal(q.unchanged('btmp', '/b', stat()), false);
});
