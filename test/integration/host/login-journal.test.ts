import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { SettingValue } from '../../../src/config/settings';
import type { PayloadItem } from '../../../src/core/event';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { LOGIN_EVENT, loginSource, type LoginSource } from '../../../src/sources/host/login';
import type { SourceStatus } from '../../../src/sources/source';
import { HostTree } from '../../harness/host-tree';
import { referenceSchemaDir } from '../../harness/paths';
import { SourceHarness } from '../../harness/source-harness';

// Logins from journald where there is no auth.log (issue 13): real journal files, written by
// systemd-journal-remote from journal export text, read by the Login source through journalctl.

const JOURNAL_REMOTE = ['/lib/systemd/systemd-journal-remote', '/usr/lib/systemd/systemd-journal-remote'].find((f) => existsSync(f));
const hasJournalctl = spawnSync('journalctl', ['--version']).status === 0;
const SKIP = !JOURNAL_REMOTE || !hasJournalctl ? 'SKIPPED: needs journalctl and systemd-journal-remote (apt-get install systemd systemd-journal-remote)' : false;
if (SKIP) console.error(SKIP);
const validator = createSchemaValidator(referenceSchemaDir());
const MACHINE = '0123456789abcdef0123456789abcdef';

interface Entry {
  message: string;
  comm?: string;
  identifier?: string;
  pid?: number;
  /** Seconds from now. */
  at?: number;
}

/** Writes one journal file from export text (one file per call: a rotation is a new file). */
function writeJournal(dir: string, name: string, entries: Entry[]): void {
  const now = Date.now() * 1000;
  const text = entries
    .map((e, i) =>
      [
        `__REALTIME_TIMESTAMP=${now + (e.at ?? 0) * 1_000_000 + i}`,
        // One boot: journald orders its entries by the monotonic clock, so it must move with the realtime one.
        `__MONOTONIC_TIMESTAMP=${10_000_000_000 + (e.at ?? 0) * 1_000_000 + i}`,
        `_BOOT_ID=${MACHINE}`,
        '_HOSTNAME=edge-gw',
        `SYSLOG_IDENTIFIER=${e.identifier ?? 'sshd'}`,
        `_COMM=${e.comm ?? 'sshd'}`,
        `_PID=${e.pid ?? 4242}`,
        `MESSAGE=${e.message}`,
        '',
        '',
      ].join('\n'),
    )
    .join('');
  const input = path.join(dir, `${name}.export`);
  writeFileSync(input, text);
  execFileSync(JOURNAL_REMOTE!, ['-o', path.join(dir, `${name}.journal`), input], { stdio: 'ignore' });
  rmSync(input);
}

async function startLogin(tree: HostTree, stateDir: string, overrides: Record<string, SettingValue> = {}) {
  const harness = new SourceHarness(loginSource, { loginPollInterval: 'PT1H', loginRedactUnknownUserNames: false, loginWtmpFile: '', loginBtmpFile: '', ...overrides }, tree.root);
  const items: PayloadItem[] = [];
  const statuses: SourceStatus[] = [];
  const source = (await loginSource.start({
    ...harness.context(),
    stateDir,
    emit: (event) => {
      assert.equal(event.Name, LOGIN_EVENT);
      assert.deepEqual(validator.validateEvent(event).errors, []);
      items.push(...event.Payload);
    },
    setStatus: (s) => statuses.push(s),
  })) as LoginSource;
  await source.pollJournal(); // the first read (start() kicked one off; this waits for a second)
  return { source, items, statuses, stop: async () => (await source.stop(), await harness.stop()) };
}

test('sshd logins from the journal when there is no auth.log: only new entries, trusted fields only, rotation-safe cursor across restarts', { skip: SKIP }, async () => {
  const tree = new HostTree();
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'h-ebpf-login-state-'));
  const dir = tree.path(`/var/log/journal/${MACHINE}`);
  try {
    tree.write(`/var/log/journal/${MACHINE}/.keep`, '');
    writeJournal(dir, 'system@old', [{ message: 'Failed password for root from 192.0.2.1 port 1111 ssh2', at: -3600 }]);
    const first = await startLogin(tree, stateDir);
    assert.equal(first.items.length, 0, 'history before the first start is not sent');
    assert.match(first.statuses.at(-1)?.method ?? '', /journalctl \(journal:var\/log\/journal\)/);
    assert.equal(first.statuses.at(-1)?.state, 'running', JSON.stringify(first.statuses.at(-1)));

    writeJournal(dir, 'system@a', [
      { message: 'Failed password for invalid user admin from 198.51.100.7 port 4444 ssh2', at: 2 },
      { message: 'Failed password for invalid user admin from 198.51.100.7 port 4445 ssh2', at: 3 },
      { message: 'Accepted publickey for alice from 2001:db8::10 port 5000 ssh2: ED25519 SHA256:x', comm: 'sshd-session', at: 4 },
      // Any user can write SYSLOG_IDENTIFIER=sshd (logger -t sshd): _COMM says who really wrote it.
      { message: 'Accepted password for root from 203.0.113.66 port 1 ssh2', comm: 'logger', identifier: 'sshd', at: 5 },
      { message: 'Accepted password for root\nfrom 203.0.113.67 port 2 ssh2', at: 6 },
    ]);
    await first.source.pollJournal();
    const summary = first.items.map((i) => `${i.UserName}@${i.RemoteAddress}:${i.Result}`);
    assert.deepEqual(summary, ['admin@198.51.100.7:Fail', 'admin@198.51.100.7:Fail', 'alice@2001:db8::10:Success'], JSON.stringify(first.items));
    await first.stop();
    assert.equal(statSync(path.join(stateDir, 'login-journal-cursor.json')).mode & 0o777, 0o600);

    // Rotation: the active file becomes an archive, a new one takes the new entries; a restart goes on from the cursor.
    renameSync(path.join(dir, 'system@a.journal'), path.join(dir, 'system@a-archived.journal'));
    writeJournal(dir, 'system@b', [{ message: 'Failed password for bob from 192.0.2.50 port 6000 ssh2', at: 8 }]);
    const second = await startLogin(tree, stateDir);
    await second.source.pollJournal();
    assert.deepEqual(second.items.map((i) => `${i.UserName}@${i.RemoteAddress}`), ['bob@192.0.2.50'], 'nothing twice, nothing missed');
    await second.stop();
  } finally {
    tree.remove();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('hostile journal state: a garbage cursor file and a garbage journal file neither crash the source nor stop it', { skip: SKIP }, async () => {
  const tree = new HostTree();
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'h-ebpf-login-state-'));
  const dir = tree.path(`/var/log/journal/${MACHINE}`);
  try {
    tree.write(`/var/log/journal/${MACHINE}/garbage.journal`, Buffer.alloc(65536, 0xa5));
    writeFileSync(path.join(stateDir, 'login-journal-cursor.json'), JSON.stringify({ cursor: "s=1;i=1' --output=export" }));
    const run = await startLogin(tree, stateDir);
    writeJournal(dir, 'system', [{ message: 'Failed password for carol from 192.0.2.77 port 7000 ssh2', at: 2 }]);
    await run.source.pollJournal();
    assert.deepEqual(run.items.map((i) => i.UserName), ['carol']);
    await run.stop();
  } finally {
    tree.remove();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
