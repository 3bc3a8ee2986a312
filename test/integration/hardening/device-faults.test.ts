import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { builtAgentSkipReason } from '../../harness/agent-process';
import { sleep, StandaloneAgent } from '../../harness/standalone-agent';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** The value of an unlabelled EdgeGuard series; the IoT Edge labels every series carries are allowed. */
function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Fills the file system holding `dir` until ENOSPC; returns the filler's path. */
function fill(dir: string): string {
  const file = path.join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(16 * 1024, 0x61);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  return file;
}

function mountSkipReason(dir: string): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a tmpfs';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `mount -t tmpfs failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  }
}

// Issue 11, beyond the list: the state directory full (ENOSPC), on a small tmpfs.
test('state directory full (ENOSPC on a 4 MB tmpfs): the agent keeps sending from memory, reports what it could not persist, and recovers by itself', { timeout: 120_000 }, async (t) => {
  const skip = builtAgentSkipReason();
  if (skip) return t.skip(`SKIP: ${skip}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-devfault-'));
  const state = path.join(dir, 'state');
  mkdirSync(state);
  const why = mountSkipReason(state);
  if (why) {
    rmSync(dir, { recursive: true, force: true });
    console.error(`SKIP: ${why}`);
    return t.skip(`SKIP: ${why}`);
  }
  const port = await freePort();
  const config = [
    'highPriorityMessageFrequency: PT1S',
    'lowPriorityMessageFrequency: PT1S',
    'snapshotFrequency: PT1S',
    ...['ProcessEvents', 'Connections', 'ContainerRuntime', 'DeploymentManifests', 'OSBaseline', 'KernelModules', 'FirewallConfiguration', 'Logins'].map((n) => `collectorEnabled${n}: false`),
    '',
  ].join('\n');
  const agent = new StandaloneAgent(config, { dir, env: { EDGEGUARD_METRICS_LISTEN: `127.0.0.1:${port}` } });
  // One hook, in order: the agent must be gone before its file system can be unmounted.
  t.after(async () => {
    await agent.stop(true).catch(() => undefined);
    try {
      execFileSync('umount', [state]);
    } catch (error) {
      console.error(`could not unmount ${state}: ${String(error)}`);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  await agent.waitFor('the first message', () => agent.messages().length > 0);
  assert.equal(metric(await scrape(port), 'edgeguard_journal_persisting'), 1);

  // Full.
  const filler = fill(state);
  const fullSince = Date.now();
  await agent.waitFor('the journal failure logged', () => agent.lines.some((l) => l.includes('queue journal cannot be written') && l.includes('ENOSPC')), 20_000);
  let sentBefore = agent.messages().length;
  await sleep(3000);
  assert.ok(agent.messages().length > sentBefore, 'messages keep coming while the disk is full');
  const full = await scrape(port);
  assert.equal(metric(full, 'edgeguard_journal_persisting'), 0);
  assert.ok(metric(full, 'edgeguard_journal_unpersisted_records_total') > 0, 'what could not be persisted is counted');
  // One warning per failure episode, never one per write: a full rewrite of the live records can fit in
  // what a dropped torn segment frees on the tmpfs, so the journal may recover ("writable again") and fail
  // again on the next append; each episode is logged once.
  const failuresLogged = agent.lines.filter((l) => l.includes('queue journal cannot be written')).length;
  const recoveriesLogged = agent.lines.filter((l) => l.includes('queue journal writable again')).length;
  assert.ok(failuresLogged >= 1, 'the failure is logged');
  assert.equal(failuresLogged, recoveriesLogged + 1, `logged once per failure episode, not once per write (${failuresLogged} warnings, ${recoveriesLogged} recoveries)`);
  assert.ok(failuresLogged <= 3, `no flood of warnings (${failuresLogged} in ${Math.round((Date.now() - fullSince) / 1000)} s)`);

  // Space comes back.
  unlinkSync(filler);
  const recoveredAfterFree = (): boolean => agent.lines.filter((l) => l.includes('queue journal writable again')).length > recoveriesLogged;
  await agent.waitFor('the journal writable again', recoveredAfterFree, 20_000);
  assert.equal(metric(await scrape(port), 'edgeguard_journal_persisting'), 1);

  // A read-only remount cannot be staged here: Linux refuses `mount -o remount,ro` (EBUSY) while the agent
  // holds its journal open for writing; the kernel's own errors=remount-ro gives EROFS on the same write
  // path as ENOSPC above (Journal.writeFailed does not look at the code).
  assert.ok(agent.process.running);
  assert.equal(await agent.stop(true), 0);
});
