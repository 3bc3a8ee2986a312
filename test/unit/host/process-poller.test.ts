import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { processEventsSource, POLLING_METHOD } from '../../../src/sources/host/process-events';
import { ProcessPoller } from '../../../src/sources/host/process-events/process-poller';
import { referenceSchemaDir } from '../../harness/paths';
import { SourceHarness } from '../../harness/source-harness';
import { writeFakeProcess } from './process-fake-proc';

const validator = createSchemaValidator(referenceSchemaDir());

function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'edgeguard-fakeproc-'));
}

test('the poller learns running processes first, then reports new, exited and pid-reused processes', () => {
  const proc = tempDir();
  try {
    writeFakeProcess(proc, { pid: 1, ppid: 0, comm: 'init', uid: 0, exe: '/sbin/init', argv: ['/sbin/init'], startTime: 1 });
    writeFakeProcess(proc, { pid: 50, ppid: 1, comm: 'sshd', uid: 0, exe: '/usr/sbin/sshd', argv: ['sshd: /usr/sbin/sshd -D'], startTime: 10 });
    const poller = new ProcessPoller(proc);
    assert.deepEqual(poller.scan(), { created: [], terminated: [] });

    writeFakeProcess(proc, { pid: 60, ppid: 50, comm: 'bash', uid: 1000, exe: '/usr/bin/bash', argv: ['-bash'], startTime: 20 });
    const second = poller.scan();
    assert.deepEqual(second.created.map((p) => [p.pid, p.executable, p.commandLine, p.uid, p.ppid]), [[60, '/usr/bin/bash', '-bash', 1000, 50]]);
    assert.deepEqual(second.terminated, []);

    rmSync(path.join(proc, '60'), { recursive: true });
    // pid 50 reused by another program: one exit and one creation.
    writeFakeProcess(proc, { pid: 50, ppid: 1, comm: 'cron', uid: 0, exe: '/usr/sbin/cron', argv: ['/usr/sbin/cron', '-f'], startTime: 30 });
    const third = poller.scan();
    assert.deepEqual(third.created.map((p) => [p.pid, p.executable]), [[50, '/usr/sbin/cron']]);
    assert.deepEqual(
      third.terminated.map((t) => [t.pid, t.executable]).sort(),
      [[50, '/usr/sbin/sshd'], [60, '/usr/bin/bash']],
    );
  } finally {
    rmSync(proc, { recursive: true, force: true });
  }
});

test('garbage in the proc tree gives warnings, never an exception', () => {
  const proc = tempDir();
  try {
    writeFakeProcess(proc, { pid: 1, ppid: 0, comm: 'init', uid: 0, exe: '/sbin/init', argv: ['/sbin/init'], startTime: 1 });
    const warnings: string[] = [];
    const poller = new ProcessPoller(proc, (m) => void warnings.push(m));
    poller.scan();
    // A process whose stat is random bytes, one with no files at all, a pid that is a plain file,
    // non-numeric entries, a binary status and cmdline, and an exe link pointing nowhere.
    mkdirSync(path.join(proc, '70'));
    writeFileSync(path.join(proc, '70', 'stat'), Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 256)));
    mkdirSync(path.join(proc, '71'));
    writeFileSync(path.join(proc, '72'), 'not a directory');
    mkdirSync(path.join(proc, 'self'), { recursive: true });
    mkdirSync(path.join(proc, '0012'));
    writeFakeProcess(proc, { pid: 73, ppid: 1, comm: 'x', uid: 0, exe: '/nonexistent/target', argv: ['x'], startTime: 40 });
    writeFileSync(path.join(proc, '73', 'status'), Buffer.from([0, 1, 2, 0x3a, 0xff, 0x0a, 0x55, 0x69, 0x64, 0x3a, 0x0a]));
    writeFileSync(path.join(proc, '73', 'cmdline'), Buffer.from([0xff, 0x00, 0xfe, 0x00]));
    const result = poller.scan();
    assert.deepEqual(result.created.map((p) => p.pid), [73]);
    assert.equal(result.created[0]?.executable, '/nonexistent/target');
    assert.equal(result.created[0]?.uid, undefined);
    assert.ok(warnings.some((w) => /unparsable \/proc stat/.test(w)), warnings.join('|'));
    assert.ok(warnings.some((w) => /no readable Uid line/.test(w)), warnings.join('|'));
    assert.doesNotThrow(() => poller.scan());
  } finally {
    rmSync(proc, { recursive: true, force: true });
  }
});

test('the source in polling mode emits schema-valid events from the host root and reports its method', async () => {
  const hostRoot = tempDir();
  const proc = path.join(hostRoot, 'proc');
  mkdirSync(path.join(hostRoot, 'etc'), { recursive: true });
  writeFileSync(path.join(hostRoot, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\nedge:x:1001:1001::/home/edge:/bin/sh\n');
  writeFakeProcess(proc, { pid: 1, ppid: 0, comm: 'init', uid: 0, exe: '/sbin/init', argv: ['/sbin/init'], startTime: 1 });
  const harness = new SourceHarness(processEventsSource, { processEventsMethod: 'polling', processPollInterval: 'PT0.05S' }, hostRoot);
  try {
    await harness.start();
    assert.equal(harness.lastStatus()?.method, POLLING_METHOD);
    writeFakeProcess(proc, { pid: 80, ppid: 1, comm: 'agent', uid: 1001, exe: '/opt/agent/bin/agent', argv: ['/opt/agent/bin/agent', '--fast'], startTime: 50 });
    await harness.waitFor((events) => events.some((e) => e.event.Name === 'ProcessCreate'), 3000);
    rmSync(path.join(proc, '80'), { recursive: true });
    writeFileSync(path.join(proc, '81'), 'garbage pid entry');
    await harness.waitFor((events) => events.some((e) => e.event.Name === 'ProcessTerminate'), 3000);
    const create = harness.eventsNamed('ProcessCreate')[0]!;
    assert.deepEqual(create.Payload, [
      {
        Executable: '/opt/agent/bin/agent',
        ProcessId: 80,
        ParentProcessId: 1,
        UserId: '1001',
        UserName: 'edge',
        CommandLine: '/opt/agent/bin/agent --fast',
        // Exec-time context read from the same proc tree (src/sources/host/proc/exec-context.ts).
        ExtraDetails: { ParentExecutable: '/sbin/init', ParentCommandLine: '/sbin/init', AncestorExecutables: '/sbin/init' },
      },
    ]);
    const terminate = harness.eventsNamed('ProcessTerminate')[0]!;
    assert.deepEqual(terminate.Payload, [{ Executable: '/opt/agent/bin/agent', ProcessId: 80, ExitStatus: -1, ExtraDetails: { MissingFields: 'ExitStatus' } }]);
    for (const { event } of harness.events) {
      const result = validator.validateEvent(event);
      assert.equal(result.valid, true, result.errors.join('\n'));
    }
  } finally {
    await harness.stop();
    rmSync(hostRoot, { recursive: true, force: true });
  }
});
