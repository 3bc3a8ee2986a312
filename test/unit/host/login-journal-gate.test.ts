import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { JournalFollower } from '../../../src/sources/host/login/journal-follower';
import { SETTLE_MS } from '../../../src/sources/host/login/quiet-files';

/** A journal directory with a machine-id subdirectory, a follower on it whose journalctl is counted. */
function setup(): { dir: string; active: string; follower: JournalFollower; runs: () => number; answer: (a: { stdout: string; truncated: boolean; error?: string }) => void; cleanup: () => void } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-journal-gate-'));
  const dir = path.join(root, 'journal');
  const sub = path.join(dir, '0123456789abcdef0123456789abcdef');
  mkdirSync(sub, { recursive: true });
  const active = path.join(sub, 'system.journal');
  writeFileSync(active, Buffer.alloc(4096, 1));
  let count = 0;
  let next: { stdout: string; truncated: boolean; error?: string } = { stdout: '', truncated: false };
  const follower = new JournalFollower({
    directory: dir,
    stateDir: path.join(root, 'state'),
    readExisting: false,
    onLines: () => undefined,
    onProblem: () => undefined,
    run: async () => {
      count++;
      return next;
    },
  });
  return { dir, active, follower, runs: () => count, answer: (a) => (next = a), cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

const settled = (): number => Date.now() + SETTLE_MS + 1_000;

test('journalctl runs only when a journal file changed since the last read that took everything', async () => {
  const j = setup();
  try {
    await j.follower.pollIfChanged(settled());
    assert.equal(j.runs(), 1, 'the first poll reads');
    await j.follower.pollIfChanged(settled());
    await j.follower.pollIfChanged(settled());
    assert.equal(j.runs(), 1, 'nothing changed: no journalctl');

    appendFileSync(j.active, 'x');
    await j.follower.pollIfChanged(settled());
    assert.equal(j.runs(), 2, 'a written active file is read');

    writeFileSync(path.join(path.dirname(j.active), 'system@0001-0002.journal'), 'archived');
    await j.follower.pollIfChanged(settled());
    assert.equal(j.runs(), 3, 'a new file (rotation) is read');
    await j.follower.pollIfChanged(settled());
    assert.equal(j.runs(), 3);

    await j.follower.poll();
    assert.equal(j.runs(), 4, 'poll() (tests, the first read) always reads');
  } finally {
    j.cleanup();
  }
});

test('a journal changed within the settle margin, a backlog left over and a failed read are read again on the next poll', async () => {
  const j = setup();
  try {
    await j.follower.pollIfChanged(Date.now());
    await j.follower.pollIfChanged(Date.now());
    assert.equal(j.runs(), 2, 'files changed less than SETTLE_MS ago: read each time');

    // Output cut at the cap on every slice: more waits after this poll's 8 slices.
    j.answer({ stdout: '', truncated: true });
    await j.follower.pollIfChanged(settled());
    const afterBacklog = j.runs();
    j.answer({ stdout: '', truncated: false });
    await j.follower.pollIfChanged(settled());
    assert.equal(j.runs(), afterBacklog + 1, 'the backlog is read on although no file changed');
    await j.follower.pollIfChanged(settled());
    assert.equal(j.runs(), afterBacklog + 1);

    // journalctl fails (killed, a corrupt file): tried again on the next poll, changed or not.
    appendFileSync(j.active, 'y');
    j.answer({ stdout: '', truncated: false, error: 'journalctl failed' });
    await j.follower.pollIfChanged(settled());
    j.answer({ stdout: '', truncated: false });
    await j.follower.pollIfChanged(settled());
    assert.equal(j.runs(), afterBacklog + 3);
    await j.follower.pollIfChanged(settled());
    assert.equal(j.runs(), afterBacklog + 3);
  } finally {
    j.cleanup();
  }
});

test('hostile journal directory: thousands of entries, a symbolic link loop and a FIFO neither hang the check nor stop the reads', async () => {
  const j = setup();
  try {
    const sub = path.dirname(j.active);
    symlinkSync(sub, path.join(sub, 'loop'));
    execFileSync('mkfifo', [path.join(sub, 'fifo.journal')]);
    await j.follower.pollIfChanged(settled());
    await j.follower.pollIfChanged(settled());
    assert.equal(j.runs(), 1, 'links and FIFOs are not followed or opened; the rest is summed up');
    for (let i = 0; i < 2000; i++) writeFileSync(path.join(sub, `user-${i}@x.journal`), '');
    const started = Date.now();
    await j.follower.pollIfChanged(settled());
    await j.follower.pollIfChanged(settled());
    assert.equal(j.runs(), 3, 'too many entries to sum up: read on every poll, as without the check');
    assert.ok(Date.now() - started < 5_000);
  } finally {
    j.cleanup();
  }
});
