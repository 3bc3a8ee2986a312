import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { SecurityEvent } from '../../../src/core/event';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { NETLINK_METHOD, POLLING_METHOD, processEventsSource, type ProcessEventsSource } from '../../../src/sources/host/process-events';
import { loadNativeAddon } from '../../../src/sources/host/common/native';
import { referenceSchemaDir, repoRoot } from '../../harness/paths';
import { SourceHarness } from '../../harness/source-harness';

const validator = createSchemaValidator(referenceSchemaDir());
const isRoot = process.getuid?.() === 0;
const NEEDS_ROOT = 'SKIPPED: needs root (CAP_NET_ADMIN in the initial namespaces) for the netlink proc connector';
if (!isRoot) console.error(NEEDS_ROOT);

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

/** Exec-time context names (exec-context.ts): present when /proc could still be read, checked on their own. */
const CONTEXT = ['ParentExecutable', 'ParentCommandLine', 'AncestorExecutables', 'Cwd', 'Tty', 'ContainerId', 'StdinType', 'StdoutType'];

/** The payload item of `pid`, without the exec-time context (a very short process may be gone before it is read). */
function payloadOf(events: SecurityEvent[], pid: number | undefined): Record<string, unknown> | undefined {
  const item = events.find((e) => e.Payload[0]?.ProcessId === pid)?.Payload[0];
  if (!item?.ExtraDetails) return item;
  const extra = Object.fromEntries(Object.entries(item.ExtraDetails).filter(([k]) => !CONTEXT.includes(k)));
  const { ExtraDetails: _context, ...rest } = item;
  return Object.keys(extra).length > 0 ? { ...rest, ExtraDetails: extra } : rest;
}

function contextOf(events: SecurityEvent[], pid: number | undefined): Record<string, string> {
  return events.find((e) => e.Payload[0]?.ProcessId === pid)?.Payload[0]?.ExtraDetails ?? {};
}

function assertAllValid(harness: SourceHarness): void {
  for (const { event } of harness.events) {
    const result = validator.validateEvent(event);
    assert.equal(result.valid, true, `${event.Name}: ${result.errors.join('\n')}`);
  }
}

test('the native addon is built and loads', () => {
  const loaded = loadNativeAddon();
  assert.ok(loaded.addon, loaded.addon ? '' : `${loaded.reason}`);
});

test('netlink: spawned processes are seen with executable, command line, parent, user and exit status', { skip: isRoot ? false : NEEDS_ROOT }, async () => {
  const harness = new SourceHarness(processEventsSource, { processEventsMethod: 'netlink' });
  try {
    await harness.start();
    assert.deepEqual(harness.lastStatus(), { state: 'running', method: NETLINK_METHOD });
    const trueChild = spawn('/bin/true', [], { stdio: 'ignore' });
    const shChild = spawn('sh', ['-c', 'exit 3'], { stdio: 'ignore' });
    const sleepChild = spawn('sleep', ['0.01'], { stdio: 'ignore' });
    const killed = spawn('sleep', ['30'], { stdio: 'ignore' });
    await Promise.all([exited(trueChild), exited(shChild), exited(sleepChild)]);
    await harness.waitFor((recorded) => recorded.some((r) => r.event.Name === 'ProcessCreate' && r.event.Payload[0]?.ProcessId === killed.pid));
    killed.kill('SIGKILL');
    await exited(killed);
    const pids = [trueChild.pid, shChild.pid, sleepChild.pid, killed.pid];
    await harness.waitFor((recorded) => pids.every((pid) => recorded.some((r) => r.event.Name === 'ProcessTerminate' && r.event.Payload[0]?.ProcessId === pid)));

    const creates = harness.eventsNamed('ProcessCreate');
    const terminates = harness.eventsNamed('ProcessTerminate');
    const common = { ParentProcessId: process.pid, UserId: '0', UserName: 'root' };
    assert.deepEqual(payloadOf(creates, trueChild.pid), { Executable: realpathSync('/bin/true'), ProcessId: trueChild.pid, CommandLine: '/bin/true', ...common });
    assert.deepEqual(payloadOf(creates, shChild.pid), { Executable: realpathSync('/bin/sh'), ProcessId: shChild.pid, CommandLine: 'sh -c exit 3', ...common });
    assert.deepEqual(payloadOf(creates, sleepChild.pid), { Executable: realpathSync('/bin/sleep'), ProcessId: sleepChild.pid, CommandLine: 'sleep 0.01', ...common });
    // The long-lived child was still there to read: its context names this test process as parent.
    const context = contextOf(creates, killed.pid);
    assert.equal(context.ParentExecutable, realpathSync(process.execPath));
    assert.equal(context.AncestorExecutables?.split(',')[0], realpathSync(process.execPath));
    assert.equal(context.Cwd, process.cwd());
    assert.equal(context.StdinType, 'null');
    assert.deepEqual(payloadOf(terminates, trueChild.pid), { Executable: realpathSync('/bin/true'), ProcessId: trueChild.pid, ExitStatus: 0 });
    assert.deepEqual(payloadOf(terminates, shChild.pid), { Executable: realpathSync('/bin/sh'), ProcessId: shChild.pid, ExitStatus: 3 });
    assert.deepEqual(payloadOf(terminates, killed.pid), {
      Executable: realpathSync('/bin/sleep'), ProcessId: killed.pid, ExitStatus: 137, ExtraDetails: { TerminationSignal: 'SIGKILL' },
    });
    assertAllValid(harness);
  } finally {
    await harness.stop();
  }
});

test('netlink: a burst of 200 back-to-back /bin/true from a shell loop is captured', { skip: isRoot ? false : NEEDS_ROOT }, async () => {
  const harness = new SourceHarness(processEventsSource, { processEventsMethod: 'netlink' });
  try {
    await harness.start();
    const loop = spawn('sh', ['-c', 'i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done'], { stdio: 'ignore' });
    await exited(loop);
    await harness.waitFor((recorded) => recorded.some((r) => r.event.Name === 'ProcessTerminate' && r.event.Payload[0]?.ProcessId === loop.pid));
    const fromLoop = harness.eventsNamed('ProcessCreate').filter((e) => e.Payload[0]?.CommandLine === '/bin/true' && e.Payload[0]?.ParentProcessId === loop.pid);
    const withExe = fromLoop.filter((e) => e.Payload[0]?.Executable === realpathSync('/bin/true'));
    // Exact shares are the benchmark's job; this is a floor that only a broken reader misses.
    assert.ok(withExe.length >= 190, `only ${withExe.length}/200 captured with executable and command line`);
    const exitsOfTrue = harness.eventsNamed('ProcessTerminate').filter((e) => e.Payload[0]?.Executable === realpathSync('/bin/true'));
    assert.ok(exitsOfTrue.length >= 190, `only ${exitsOfTrue.length}/200 exits with executable`);
  } finally {
    await harness.stop();
  }
});

test('netlink: an exec on each CPU is seen exactly once (per-CPU readers, each filtering on its CPU)', { skip: isRoot ? false : NEEDS_ROOT }, async () => {
  const cpus = (spawnSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' }).stdout.split(':')[1] ?? '').trim();
  const allowed = cpus.split(',').flatMap((range) => {
    const [from, to] = range.split('-').map(Number);
    return Array.from({ length: (to ?? from!) - from! + 1 }, (_, i) => from! + i);
  });
  assert.ok(allowed.length > 0, `could not read this process's CPUs from taskset: ${cpus}`);
  const harness = new SourceHarness(processEventsSource, { processEventsMethod: 'netlink' });
  try {
    const source = (await harness.start()) as ProcessEventsSource;
    const stats = source.stats().native!;
    if (stats.priority === 'realtime' && allowed.length > 1) {
      assert.equal(stats.readers, Math.min(allowed.length, 16));
    } else {
      assert.equal(stats.readers, 1);
    }
    // taskset moves itself to the CPU, then execs /bin/true there: that exec event is raised on that CPU.
    const children = allowed.map((cpu) => spawn('taskset', ['-c', String(cpu), '/bin/true'], { stdio: 'ignore' }));
    await Promise.all(children.map(exited));
    await harness.waitFor((recorded) => children.every((c) => recorded.some((r) => r.event.Name === 'ProcessTerminate' && r.event.Payload[0]?.ProcessId === c.pid)));
    const creates = harness.eventsNamed('ProcessCreate');
    for (const [i, child] of children.entries()) {
      // Two execs per child: taskset's own, then /bin/true's on the chosen CPU; each exactly once.
      const ofChild = creates.filter((e) => e.Payload[0]?.ProcessId === child.pid);
      assert.equal(ofChild.length, 2, `pid ${child.pid} (CPU ${allowed[i]}): ${ofChild.length} ProcessCreate events`);
      if (stats.priority === 'realtime') assert.equal(ofChild[1]!.Payload[0]!.Executable, realpathSync('/bin/true'));
    }
    assertAllValid(harness);
  } finally {
    await harness.stop();
  }
});

test('/proc polling sees a process that lives longer than the interval, with exit status unknown', async () => {
  const harness = new SourceHarness(processEventsSource, { processEventsMethod: 'polling', processPollInterval: 'PT0.1S' });
  try {
    await harness.start();
    assert.equal(harness.lastStatus()?.method, POLLING_METHOD);
    const child = spawn('sleep', ['0.6'], { stdio: 'ignore' });
    await exited(child);
    await harness.waitFor((recorded) => recorded.some((r) => r.event.Name === 'ProcessTerminate' && r.event.Payload[0]?.ProcessId === child.pid));
    assert.deepEqual(payloadOf(harness.eventsNamed('ProcessCreate'), child.pid), {
      Executable: realpathSync('/bin/sleep'), ProcessId: child.pid, ParentProcessId: process.pid, UserId: String(process.getuid?.()),
      UserName: isRoot ? 'root' : payloadOf(harness.eventsNamed('ProcessCreate'), child.pid)?.UserName, CommandLine: 'sleep 0.6',
    });
    assert.deepEqual(payloadOf(harness.eventsNamed('ProcessTerminate'), child.pid), {
      Executable: realpathSync('/bin/sleep'), ProcessId: child.pid, ExitStatus: -1, ExtraDetails: { MissingFields: 'ExitStatus' },
    });
    assertAllValid(harness);
  } finally {
    await harness.stop();
  }
});

test('auto falls back from the eBPF sensor to the proc connector to /proc polling, the status naming both reasons', { skip: isRoot ? false : NEEDS_ROOT }, () => {
  // A new network namespace (made by unshare, cleaned up when the child exits): the proc connector
  // lives only in the initial one, so the real kernel refuses and the source must degrade.
  const script = `
    const { SourceHarness } = require(${JSON.stringify(path.join(repoRoot(), 'dist/test/harness/source-harness.js'))});
    const { processEventsSource } = require(${JSON.stringify(path.join(repoRoot(), 'dist/src/sources/host/process-events.js'))});
    const { KERNEL_SENSOR_SETTINGS } = require(${JSON.stringify(path.join(repoRoot(), 'dist/src/sources/host/kernel-sensor/settings.js'))});
    (async () => {
      // The eBPF sensor would load in any network namespace: a missing BPF object takes it out of the chain too.
      const def = { ...processEventsSource, settings: [...processEventsSource.settings, ...KERNEL_SENSOR_SETTINGS] };
      const h = new SourceHarness(def, { processEventsMethod: 'auto', kernelSensorObjectPath: '/nonexistent/sensor.bpf.o' });
      await h.start();
      console.log(JSON.stringify(h.lastStatus()));
      await h.stop();
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const run = spawnSync('unshare', ['--net', process.execPath, '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.status, 0, run.stderr);
  const status = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { state?: string; method?: string; reason?: string };
  assert.equal(status.state, 'degraded');
  assert.equal(status.method, POLLING_METHOD);
  assert.match(status.reason ?? '', /eBPF kernel sensor unavailable \(open BPF object.*; netlink proc connector/);
});
