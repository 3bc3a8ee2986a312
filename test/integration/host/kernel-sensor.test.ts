import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { SettingValue } from '../../../src/config/settings';
import type { SecurityEvent } from '../../../src/core/event';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { connectionsSource } from '../../../src/sources/host/connections';
import { EBPF_CONNECTIONS_METHOD } from '../../../src/sources/host/kernel-sensor/connections-method';
import { fileOperationsSource } from '../../../src/sources/host/kernel-sensor/file-operations';
import { EBPF_PROCESS_METHOD } from '../../../src/sources/host/kernel-sensor/process-method';
import { defaultObjectPath, HEALTH_CHECK_MS, loadSensorAddon } from '../../../src/sources/host/kernel-sensor/sensor';
import { KERNEL_SENSOR_SETTINGS } from '../../../src/sources/host/kernel-sensor/settings';
import { NETLINK_METHOD, processEventsSource, type ProcessEventsSource } from '../../../src/sources/host/process-events';
import type { SourceDefinition } from '../../../src/sources/source';
import { repoRoot, referenceSchemaDir } from '../../harness/paths';
import { SourceHarness } from '../../harness/source-harness';
import { execIn, openDockerTests, TEST_IMAGE, TEST_LABEL } from '../../harness/docker';
import { containerRuntimeSource } from '../../../src/sources/docker/index';

// The eBPF kernel sensor on this machine's real kernel (issue 13): root, loopback, temp directories.

const validator = createSchemaValidator(referenceSchemaDir(), path.join(repoRoot(), 'schemas', 'events'));
const isRoot = process.getuid?.() === 0;
/** Loads and closes the sensor once: the kernel, tracefs and privileges are all there, or the reason. */
function probeSensor(): string | undefined {
  const loaded = loadSensorAddon();
  if ('reason' in loaded) return loaded.reason;
  try {
    loaded.addon.sensorClose(loaded.addon.sensorOpen({ objectPath: defaultObjectPath(), network: false, files: false }, () => undefined));
    return undefined;
  } catch (err) {
    return `the kernel sensor does not load here: ${err instanceof Error ? err.message : String(err)}`;
  }
}
const probe = isRoot ? probeSensor() : 'not root';
const SKIP = !isRoot ? 'SKIPPED: the kernel sensor needs root (CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN)' : probe ? `SKIPPED: ${probe}` : false;
if (SKIP) console.error(SKIP);

/** A source with the kernel sensor's settings in its catalogue too (they are declared by FileOperations). */
function withSensorSettings(def: SourceDefinition): SourceDefinition {
  return def === fileOperationsSource ? def : { ...def, settings: [...def.settings, ...KERNEL_SENSOR_SETTINGS] };
}

function harness(def: SourceDefinition, overrides: Record<string, SettingValue>): SourceHarness {
  return new SourceHarness(withSensorSettings(def), { kernelSensorExcludeSelf: false, ...overrides });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

function payload(events: SecurityEvent[], match: (p: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
  return events.map((e) => e.Payload[0] as Record<string, unknown>).find(match);
}

function assertValid(h: SourceHarness): void {
  for (const { event } of h.events) {
    const result = validator.validateEvent(event);
    assert.equal(result.valid, true, `${event.Name}: ${result.errors.join('\n')}`);
  }
}

let tmp = '';
before(() => {
  tmp = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'h-ebpf-')));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('ProcessCreate/Terminate from the sensor: executable, full argv, cwd, parent context, exit status and signal', { skip: SKIP }, async () => {
  const h = harness(processEventsSource, { processEventsMethod: 'ebpf' });
  try {
    await h.start();
    assert.deepEqual(h.lastStatus(), { state: 'running', method: EBPF_PROCESS_METHOD });
    copyFileSync('/bin/true', path.join(tmp, 'true-copy'));
    chmodSync(path.join(tmp, 'true-copy'), 0o755);
    const sh = spawn('sh', ['-c', 'exit 3'], { stdio: 'ignore', cwd: tmp });
    const rel = spawn('./true-copy', ['a b', '', 'c'], { stdio: 'ignore', cwd: tmp });
    const killed = spawn('sleep', ['30'], { stdio: 'ignore' });
    await Promise.all([exited(sh), exited(rel)]);
    await h.waitFor((r) => r.some((e) => e.event.Name === 'ProcessCreate' && e.event.Payload[0]?.ProcessId === killed.pid));
    killed.kill('SIGKILL');
    await exited(killed);
    const pids = [sh.pid, killed.pid];
    await h.waitFor((r) => pids.every((pid) => r.some((e) => e.event.Name === 'ProcessTerminate' && e.event.Payload[0]?.ProcessId === pid)));

    const creates = h.eventsNamed('ProcessCreate');
    const shCreate = payload(creates, (p) => p.ProcessId === sh.pid);
    assert.ok(shCreate);
    assert.equal(shCreate.Executable, realpathSync('/bin/sh'));
    assert.equal(shCreate.CommandLine, 'sh -c exit 3');
    assert.equal(shCreate.ParentProcessId, process.pid);
    const extra = shCreate.ExtraDetails as Record<string, string>;
    assert.equal(extra.Cwd, tmp);
    assert.equal(extra.ParentExecutable, realpathSync(process.execPath));
    assert.ok(extra.AncestorExecutables?.startsWith(realpathSync(process.execPath)), extra.AncestorExecutables);
    assert.ok(extra.AncestorExecutables!.split(',').length <= 5);
    assert.match(extra.CgroupId ?? '', /^\d+$/);
    assert.equal(extra.ContainerId, undefined, 'a host process names no container');

    // Started by a relative name: the executable as the kernel resolved it; empty arguments kept.
    const relCreate = payload(creates, (p) => p.ProcessId === rel.pid);
    assert.equal(relCreate?.Executable, path.join(tmp, 'true-copy'));
    assert.equal(relCreate?.CommandLine, './true-copy a b  c');

    const terminates = h.eventsNamed('ProcessTerminate');
    assert.deepEqual(payload(terminates, (p) => p.ProcessId === sh.pid)?.ExitStatus, 3);
    const k = payload(terminates, (p) => p.ProcessId === killed.pid);
    assert.equal(k?.ExitStatus, 137);
    assert.equal((k?.ExtraDetails as Record<string, string>).TerminationSignal, 'SIGKILL');
    assertValid(h);
  } finally {
    await h.stop();
  }
});

test('argv longer than 4 KB is cut at 4 KB and flagged; binary bytes and newlines in argv do not break decoding', { skip: SKIP }, async () => {
  const h = harness(processEventsSource, { processEventsMethod: 'ebpf' });
  try {
    await h.start();
    const long = 'x'.repeat(3000);
    const child = spawn('/bin/true', [long, long, 'evil\nline\u0007\u001b[2J', '\udc80'.normalize()], { stdio: 'ignore' });
    await exited(child);
    await h.waitFor((r) => r.some((e) => e.event.Name === 'ProcessCreate' && e.event.Payload[0]?.ProcessId === child.pid));
    const p = payload(h.eventsNamed('ProcessCreate'), (x) => x.ProcessId === child.pid)!;
    const extra = p.ExtraDetails as Record<string, string>;
    assert.equal(extra.CommandLineTruncated, 'true');
    assert.ok(Number(extra.CommandLineBytes) > 6000, extra.CommandLineBytes);
    assert.ok(String(p.CommandLine).length <= 4096, `${String(p.CommandLine).length}`);
    assert.ok(String(p.CommandLine).startsWith(`/bin/true ${long} `));
    assertValid(h);
  } finally {
    await h.stop();
  }
});

test('Connections from the sensor: a 1 ms loopback connection both ways with its process, and PortListen for bind and listen', { skip: SKIP }, async () => {
  const h = harness(connectionsSource, { connectionsMethod: 'ebpf', connectionsIncludeLoopback: true });
  const server = net.createServer((s) => s.end());
  try {
    await h.start();
    assert.deepEqual(h.lastStatus(), { state: 'running', method: EBPF_CONNECTIONS_METHOD });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    // A client in another process that connects and closes at once.
    const client = spawn(process.execPath, ['-e', `const s=require('net').connect(${port},'127.0.0.1',()=>s.end());s.on('close',()=>process.exit(0))`], { stdio: 'ignore' });
    await exited(client);
    assert.equal(client.exitCode, 0);
    await h.waitFor((r) => r.filter((e) => e.event.Name === 'ConnectionCreate' && (e.event.Payload[0]?.LocalPort === String(port) || e.event.Payload[0]?.RemotePort === String(port))).length >= 2);
    const conns = h.eventsNamed('ConnectionCreate');
    const out = payload(conns, (p) => p.Direction === 'Out' && p.RemotePort === String(port));
    const inbound = payload(conns, (p) => p.Direction === 'In' && p.LocalPort === String(port));
    assert.ok(out && inbound, JSON.stringify(conns.map((c) => c.Payload[0])));
    assert.equal(out.ProcessId, client.pid);
    assert.equal(out.Executable, realpathSync(process.execPath));
    assert.equal(out.RemoteAddress, '127.0.0.1');
    assert.equal(inbound.ProcessId, process.pid);
    assert.equal(inbound.RemotePort, out.LocalPort);
    const listens = h.eventsNamed('PortListen').map((e) => e.Payload[0] as Record<string, unknown>);
    assert.ok(listens.some((l) => l.Operation === 'Listen' && l.LocalPort === String(port) && l.ProcessId === process.pid && l.Result === 'OK'), JSON.stringify(listens));
    assert.ok(listens.some((l) => l.Operation === 'Bind' && l.LocalAddress === '127.0.0.1' && l.ProcessId === process.pid));

    // IPv6 the same way.
    const server6 = net.createServer((sock) => sock.end());
    await new Promise<void>((resolve) => server6.listen(0, '::1', resolve));
    const port6 = (server6.address() as net.AddressInfo).port;
    const client6 = spawn(process.execPath, ['-e', `const s=require('net').connect(${port6},'::1',()=>s.end());s.on('close',()=>process.exit(0))`], { stdio: 'ignore' });
    await exited(client6);
    await h.waitFor((r) => r.some((e) => e.event.Name === 'ConnectionCreate' && e.event.Payload[0]?.RemotePort === String(port6)));
    const out6 = payload(h.eventsNamed('ConnectionCreate'), (p) => p.RemotePort === String(port6))!;
    assert.equal(out6.RemoteAddress, '::1');
    assert.equal(out6.ProcessId, client6.pid);
    await new Promise<void>((resolve) => server6.close(() => resolve()));

    // A refused connect (nothing listens on the port once closed) is reported with its result.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await exited(spawn(process.execPath, ['-e', `require('net').connect(${port},'127.0.0.1').on('error',()=>process.exit(0))`], { stdio: 'ignore' }));
    await h.waitFor((r) => r.some((e) => e.event.Name === 'ConnectionCreate' && (e.event.Payload[0]?.ExtraDetails as Record<string, string> | undefined)?.Result !== undefined));
    assertValid(h);
  } finally {
    server.close();
    await h.stop();
  }
});

test('FileOperations: writes, renames (relative names resolved), unlinks, truncation and reads under watched paths, filtered in the kernel', { skip: SKIP }, async () => {
  const watched = path.join(tmp, 'watched');
  const outside = path.join(tmp, 'outside');
  mkdirSync(watched);
  mkdirSync(outside);
  writeFileSync(path.join(watched, 'secret'), 's3cret');
  const h = harness(fileOperationsSource, {
    fileOperationsWatchPaths: [`${watched}/`],
    fileOperationsReadWatchPaths: [path.join(watched, 'secret')],
    fileOperationsWatchNames: ['.h-ebpf_history'],
  });
  try {
    await h.start();
    symlinkSync(path.join(watched, 'via-link'), path.join(outside, 'link'));
    const script = [
      'cd watched',
      'echo x > a', // open for write, relative
      'mv a b', // rename, relative names
      'cat secret > /dev/null', // read of a read-watched file
      'truncate -s 0 b',
      'rm b',
      'echo y > ../outside/not-watched',
      'cat ../outside/not-watched > /dev/null',
      'echo z > ../outside/link', // through a symlink from outside: the real path is reported
      'echo h > ../outside/.h-ebpf_history', // a watched name anywhere
      'ln secret ../outside/hard-link', // the read-watched file under another name: matched by its inode
      'cat ../outside/hard-link > /dev/null',
    ].join(' && ');
    const sh = spawnSync('sh', ['-c', script], { cwd: tmp });
    assert.equal(sh.status, 0, sh.stderr.toString());
    await h.waitFor((r) => r.some((e) => (e.event.Payload[0]?.Path as string | undefined)?.endsWith('hard-link')));
    const ops = h.eventsNamed('FileOperation').map((e) => e.Payload[0] as Record<string, unknown>);
    const has = (op: string, p: string, extra: (x: Record<string, unknown>) => boolean = () => true): boolean => ops.some((o) => o.Operation === op && o.Path === p && extra(o));
    assert.ok(has('OpenForWrite', path.join(watched, 'a')), JSON.stringify(ops, null, 1));
    assert.ok(has('Rename', path.join(watched, 'a'), (o) => o.TargetPath === path.join(watched, 'b')));
    assert.ok(has('OpenForRead', path.join(watched, 'secret'), (o) => String(o.Executable).endsWith('/cat')));
    assert.ok(has('Truncate', path.join(watched, 'b')));
    assert.ok(has('Unlink', path.join(watched, 'b')));
    assert.ok(has('OpenForWrite', path.join(watched, 'via-link')));
    assert.ok(has('OpenForWrite', path.join(outside, '.h-ebpf_history')));
    assert.ok(has('OpenForRead', path.join(outside, 'hard-link')), 'a hard link to a read-watched file');
    assert.ok(!ops.some((o) => String(o.Path).includes('not-watched')), 'nothing outside the watched prefixes');
    assert.ok(!ops.some((o) => o.Operation === 'OpenForRead' && o.Path !== path.join(watched, 'secret') && o.Path !== path.join(outside, 'hard-link')));
    assertValid(h);
  } finally {
    await h.stop();
  }
});

test('FileOperations: hostile names (control characters, invalid UTF-8, a 34-level path) are reported without breaking; ".." and too-deep paths are reported rather than missed', { skip: SKIP }, async () => {
  const watched = path.join(tmp, 'hostile');
  mkdirSync(watched);
  const h = harness(fileOperationsSource, { fileOperationsWatchPaths: [`${watched}/`], fileOperationsReadWatchPaths: [] });
  try {
    await h.start();
    const evil = Buffer.concat([Buffer.from(`${watched}/evil\n\u001b[2J-`), Buffer.from([0xff, 0xfe]), Buffer.from('.txt')]);
    writeFileSync(evil, 'x');
    // 30 levels below a prefix 3 levels deep: within the 40 components the kernel walks (docs/kernel-sensor.md).
    const deep = path.join(watched, ...Array.from({ length: 30 }, (_, i) => `d${i}`));
    mkdirSync(deep, { recursive: true });
    spawnSync('sh', ['-c', 'echo x > deep-file'], { cwd: deep });
    // Deeper than the 40 components the kernel walks: the top is lost, so it is reported and flagged.
    const deeper = path.join(tmp, 'elsewhere', ...Array.from({ length: 45 }, (_, i) => `e${i}`));
    mkdirSync(deeper, { recursive: true });
    spawnSync('sh', ['-c', 'echo x > too-deep-file'], { cwd: deeper });
    // ".." in a path as given cannot be matched lexically in the kernel: reported, then normalised.
    writeFileSync(path.join(watched, 'victim'), 'x');
    spawnSync('rm', [`${tmp}/elsewhere/../hostile/victim`]);
    await h.waitFor((r) => r.some((e) => e.event.Payload[0]?.Operation === 'Unlink'));
    await h.waitFor((r) => r.some((e) => e.event.Payload[0]?.Path === path.join(deep, 'deep-file')));
    await h.waitFor((r) => r.some((e) => String(e.event.Payload[0]?.Path).endsWith('/too-deep-file')));
    const ops = h.eventsNamed('FileOperation').map((e) => e.Payload[0] as Record<string, unknown>);
    assert.ok(ops.some((o) => String(o.Path).startsWith(`${watched}/evil\n`)), JSON.stringify(ops.map((o) => o.Path)));
    assert.ok(ops.some((o) => o.Operation === 'Unlink' && o.Path === path.join(watched, 'victim')), 'the ".." path reported, normalised');
    const tooDeep = ops.find((o) => String(o.Path).endsWith('/too-deep-file'))!;
    assert.equal((tooDeep.ExtraDetails as Record<string, string>).PathTruncated, 'true');
    assertValid(h);
  } finally {
    await h.stop();
  }
});

test("kernelSensorExcludeSelf: EdgeGuard's own tree is filtered in the kernel, other processes are not", { skip: SKIP }, async () => {
  const dir = path.join(tmp, 'self');
  mkdirSync(dir);
  // Forked before the sensor loads, so not a known descendant: stands for any other process on the host.
  const other = spawn('sh', ['-c', `read x; echo other > ${dir}/other`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const h = new SourceHarness(fileOperationsSource, { fileOperationsWatchPaths: [`${dir}/`], kernelSensorExcludeSelf: true });
  try {
    await h.start();
    writeFileSync(path.join(dir, 'mine'), 'x');
    spawnSync('sh', ['-c', `echo child > ${dir}/child`]);
    other.stdin!.end('go\n');
    await exited(other);
    await h.waitFor((r) => r.some((e) => e.event.Payload[0]?.Path === path.join(dir, 'other')));
    const paths = h.eventsNamed('FileOperation').map((e) => e.Payload[0]?.Path);
    assert.ok(!paths.includes(path.join(dir, 'mine')), 'own writes excluded');
    assert.ok(!paths.includes(path.join(dir, 'child')), "own children's writes excluded");
  } finally {
    other.kill();
    await h.stop();
  }
});

test('fallback: a BPF object that cannot be opened leaves ProcessEvents on the proc connector, with the reason in the status', { skip: SKIP }, async () => {
  const h = harness(processEventsSource, { processEventsMethod: 'auto', kernelSensorObjectPath: path.join(tmp, 'missing.bpf.o') });
  try {
    await h.start();
    const status = h.lastStatus()!;
    assert.equal(status.method, NETLINK_METHOD);
    assert.match(status.reason ?? '', /eBPF kernel sensor unavailable \(open BPF object: No such file or directory/);
  } finally {
    await h.stop();
  }
  const strict = harness(processEventsSource, { processEventsMethod: 'ebpf', kernelSensorObjectPath: path.join(tmp, 'missing.bpf.o') });
  await assert.rejects(strict.start(), /processEventsMethod is ebpf, so no fallback/);
  await strict.stop();
});

test('fallback: without CAP_SYS_ADMIN, CAP_BPF and CAP_PERFMON the sensor is refused and both sources fall back, saying why', { skip: SKIP }, async () => {
  if (spawnSync('capsh', ['--print']).error) return void console.error('SKIPPED: capsh missing (apt-get install libcap2-bin)');
  const script = `
    const { SourceHarness } = require(${JSON.stringify(path.join(repoRoot(), 'dist/test/harness/source-harness.js'))});
    const { processEventsSource } = require(${JSON.stringify(path.join(repoRoot(), 'dist/src/sources/host/process-events.js'))});
    const { connectionsSource } = require(${JSON.stringify(path.join(repoRoot(), 'dist/src/sources/host/connections.js'))});
    (async () => {
      const out = {};
      for (const [name, def] of [['process', processEventsSource], ['connections', connectionsSource]]) {
        const h = new SourceHarness(def, {});
        await h.start();
        out[name] = h.lastStatus();
        await h.stop();
      }
      console.log(JSON.stringify(out));
      process.exit(0);
    })();`;
  const run = spawnSync('capsh', ['--drop=cap_sys_admin,cap_bpf,cap_perfmon', '--', '-c', `exec "${process.execPath}" -e '${script.replace(/'/g, "'\\''")}'`], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, { method: string; reason?: string }>;
  assert.equal(out.process!.method, NETLINK_METHOD);
  assert.match(out.process!.reason ?? '', /eBPF kernel sensor unavailable \(load BPF programs.*(Operation not permitted|Permission denied)/);
  assert.notEqual(out.connections!.method, EBPF_CONNECTIONS_METHOD);
  assert.match(out.connections!.reason ?? '', /eBPF kernel sensor unavailable/);
});

test('the BPF object was built from the repository (no download): it is an ELF for the BPF machine with BTF', { skip: SKIP }, () => {
  const obj = readFileSync(path.join(repoRoot(), 'build', 'Release', 'edgeguard_sensor.bpf.o'));
  assert.equal(obj.subarray(0, 4).toString('latin1'), '\x7fELF');
  assert.equal(obj.readUInt16LE(18), 247, 'e_machine EM_BPF');
  assert.ok(obj.includes(Buffer.from('.BTF')), 'BTF section for CO-RE');
});

test('container attribution: processes and file operations inside a real container name its id and name (from the ContainerRuntime directory)', { skip: SKIP }, async (t) => {
  const docker = await openDockerTests();
  if (docker.skip) return void t.skip(docker.skip);
  const runtime = new SourceHarness(containerRuntimeSource);
  const procs = harness(processEventsSource, { processEventsMethod: 'ebpf' });
  const files = harness(fileOperationsSource, { fileOperationsWatchPaths: ['/tmp/h-ebpf-mark'], fileOperationsReadWatchPaths: [] });
  const name = `h-ebpf-attrib-${docker.containers.runId}`;
  try {
    const container = await docker.connection.docker.createContainer({
      name,
      Image: TEST_IMAGE,
      Cmd: ['sleep', '600'],
      Labels: { [TEST_LABEL]: docker.containers.runId },
      HostConfig: { NetworkMode: 'none' },
    });
    await container.start();
    const source = await runtime.start();
    await source.snapshot!(); // the directory learns the running container
    await procs.start();
    await files.start();
    const code = await execIn(container, ['sh', '-c', 'echo x > /tmp/h-ebpf-mark; cat /tmp/h-ebpf-mark']);
    assert.equal(code, 0);
    await files.waitFor((r) => r.some((e) => e.event.Payload[0]?.Path === '/tmp/h-ebpf-mark'), 10_000);
    await procs.waitFor((r) => r.some((e) => e.event.Name === 'ProcessCreate' && e.event.Payload[0]?.CommandLine === 'sh -c echo x > /tmp/h-ebpf-mark; cat /tmp/h-ebpf-mark'), 10_000);
    const id = container.id;
    const create = payload(procs.eventsNamed('ProcessCreate'), (p) => p.CommandLine === 'sh -c echo x > /tmp/h-ebpf-mark; cat /tmp/h-ebpf-mark')!;
    const extra = create.ExtraDetails as Record<string, string>;
    assert.equal(extra.ContainerId, id);
    assert.equal(extra.ContainerName, name);
    assert.equal(create.Executable, '/bin/busybox', 'the path inside the container');
    const op = payload(files.eventsNamed('FileOperation'), (p) => p.Path === '/tmp/h-ebpf-mark')!;
    assert.equal((op.ExtraDetails as Record<string, string>).ContainerId, id);
    assert.equal((op.ExtraDetails as Record<string, string>).ContainerName, name);
    // A host process in the same run names no container.
    assert.ok(procs.eventsNamed('ProcessCreate').some((e) => (e.Payload[0]?.ExtraDetails as Record<string, string>).ContainerId === undefined));
  } finally {
    await files.stop();
    await procs.stop();
    await runtime.stop();
    await docker.containers.cleanup();
  }
});

test('a loss is counted and reported: with JavaScript blocked during an exec burst, the dropped records show in the stats and the status', { skip: SKIP }, async () => {
  const h = harness(processEventsSource, { processEventsMethod: 'ebpf' });
  try {
    const source = (await h.start()) as ProcessEventsSource;
    const loop = spawn('sh', ['-c', 'i=0; while [ $i -lt 4000 ]; do /bin/true; i=$((i+1)); done'], { stdio: 'ignore' });
    // Block the event loop for 4 s: the addon's queue of batches for JS (64) fills and the rest is dropped, counted.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4000);
    await exited(loop);
    const dropped = source.stats().sensor?.droppedRecords ?? 0;
    assert.ok(dropped > 0, `records dropped while JS was blocked: ${dropped}`);
    await h.waitFor(() => h.lastStatus()?.state === 'degraded', 12_000);
    assert.match(h.lastStatus()?.reason ?? '', /kernel sensor lost records: \d+ recordsDroppedConsumerSlow/);
  } finally {
    await h.stop();
  }
});

test("a source whose sensor load fails does not take the sensor from the others: they keep their events", { skip: SKIP }, async () => {
  const procs = harness(processEventsSource, { processEventsMethod: 'ebpf' });
  const files = harness(fileOperationsSource, { kernelSensorObjectPath: path.join(tmp, 'missing.bpf.o') });
  try {
    await procs.start();
    await assert.rejects(files.start(), /eBPF kernel sensor unavailable \(open BPF object/);
    const child = spawn('/bin/true', ['after-failed-load'], { stdio: 'ignore' });
    await exited(child);
    await procs.waitFor((r) => r.some((e) => e.event.Name === 'ProcessCreate' && e.event.Payload[0]?.ProcessId === child.pid));
  } finally {
    await files.stop();
    await procs.stop();
  }
});

test('one health check for every source on the sensor: the figures are read once per check, each source keeps its own status', { skip: SKIP, timeout: 30_000 }, async () => {
  const loaded = loadSensorAddon();
  assert.ok(!('reason' in loaded));
  // The addon's exports are read-only: the cached holder gets a counting stand-in of the same addon.
  const real = loaded.addon;
  let reads = 0;
  loaded.addon = {
    sensorOpen: (options, onBatch) => real.sensorOpen(options, onBatch),
    sensorClose: (handle) => real.sensorClose(handle),
    sensorStats: (handle) => {
      reads++;
      return real.sensorStats(handle);
    },
  };
  const procs = harness(processEventsSource, { processEventsMethod: 'ebpf' });
  const conns = harness(connectionsSource, { connectionsMethod: 'ebpf' });
  const files = harness(fileOperationsSource, { fileOperationsWatchPaths: [`${tmp}/health/`] });
  let stopped = false;
  try {
    await procs.start();
    await conns.start();
    await files.start();
    assert.equal(reads, 3, 'each source checks once as it starts');
    await new Promise((resolve) => setTimeout(resolve, HEALTH_CHECK_MS + 1_500));
    assert.equal(reads, 4, 'then one read serves all three sources');
    assert.equal(procs.lastStatus()?.method, EBPF_PROCESS_METHOD);
    assert.equal(conns.lastStatus()?.method, EBPF_CONNECTIONS_METHOD);
    for (const h of [procs, conns, files]) assert.equal(h.lastStatus()?.state, 'running', JSON.stringify(h.lastStatus()));
    stopped = true;
    await files.stop();
    await conns.stop();
    await procs.stop();
    const afterStop = reads;
    await new Promise((resolve) => setTimeout(resolve, HEALTH_CHECK_MS + 500));
    assert.equal(reads, afterStop, 'no check left running once the last source stopped');
  } finally {
    loaded.addon = real;
    if (!stopped) {
      await files.stop();
      await conns.stop();
      await procs.stop();
    }
  }
});
