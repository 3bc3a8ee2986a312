import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SensorEnrichment } from '../../../src/sources/host/kernel-sensor/context';
import { ProcessTable } from '../../../src/sources/host/kernel-sensor/process-table';
import type { ExecRecord, ExitRecord, RecordHeader } from '../../../src/sources/host/kernel-sensor/records';

function header(pid: number): RecordHeader {
  return { pid, tid: pid, ppid: 1, uid: 0, gid: 0, euid: 0, cgroupId: 0n, cgroupV1Id: 0n, ktimeNs: 0n, comm: 'true' };
}

function execRecord(pid: number, argv: string[]): ExecRecord {
  return { ...header(pid), type: 'exec', executable: '/bin/true', executableTruncated: false, cwd: '/', cwdTruncated: false, tty: '', argv, argvTruncated: false, argvBytes: argv.join(' ').length };
}

function exitRecord(pid: number): ExitRecord {
  return { ...header(pid), type: 'exit', waitStatus: 0 };
}

/** An empty proc tree: nothing can be read back from /proc, so a hit comes from the tables only. */
function emptyProc(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-proctable-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('exited processes leave the live table: 20,000 short-lived execs with 2 KB command lines are not all kept', (t) => {
  const enrich = new SensorEnrichment(emptyProc(t), '/');
  const long = 'x'.repeat(2000);
  for (let pid = 1000; pid < 21_000; pid++) {
    enrich.learn(execRecord(pid, ['/bin/true', long, String(pid)]));
    enrich.learn(exitRecord(pid));
  }
  const sizes = enrich.processes.sizes();
  assert.equal(sizes.live, 0);
  assert.ok(sizes.exited <= 1024, `exited table bounded: ${sizes.exited}`);
  // The most recent exits are still readable (records about them may still be in flight)…
  assert.equal(enrich.processes.get(20_999)?.commandLine, `/bin/true ${long} 20999`);
  // …the old ones are forgotten (and the empty proc tree has nothing to read back).
  assert.equal(enrich.processes.get(1000), undefined);
});

test('a live process stays known; its exit keeps it readable; a reused pid is the new process', (t) => {
  const table = new ProcessTable(emptyProc(t));
  table.set(42, { executable: '/usr/sbin/sshd', commandLine: 'sshd -D', ppid: 1 });
  for (let pid = 100; pid < 3000; pid++) {
    table.set(pid, { executable: '/bin/true', ppid: 42 });
    table.exited(pid);
  }
  assert.equal(table.get(42)?.executable, '/usr/sbin/sshd', 'a live parent survives any number of exited children');
  table.exited(42);
  assert.equal(table.get(42)?.commandLine, 'sshd -D');
  assert.deepEqual(table.sizes().live, 0);
  table.set(42, { executable: '/bin/sh', ppid: 1 });
  assert.equal(table.get(42)?.executable, '/bin/sh');
  assert.deepEqual(table.sizes(), { live: 1, exited: 1023 });
  table.exited(7); // never seen: nothing to move
  assert.equal(table.sizes().live, 1);
});

test('a process that exec\'d before the sensor loaded is read from /proc once', (t) => {
  const proc = emptyProc(t);
  mkdirSync(path.join(proc, '77'));
  writeFileSync(path.join(proc, '77', 'status'), 'Name:\tdaemon\nPPid:\t1\n');
  writeFileSync(path.join(proc, '77', 'cmdline'), 'daemon\0--flag\0');
  const table = new ProcessTable(proc);
  assert.deepEqual(table.get(77), { ppid: 1, commandLine: 'daemon --flag' });
  assert.equal(table.sizes().live, 1);
});
