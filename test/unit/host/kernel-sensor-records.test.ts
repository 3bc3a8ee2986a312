import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containerIdInPath } from '../../../src/sources/host/kernel-sensor/cgroup-containers';
import { LossTracker, lossReport } from '../../../src/sources/host/kernel-sensor/loss';
import { decodeRecords, normalizeAbsolute, splitArgv } from '../../../src/sources/host/kernel-sensor/records';
import type { SensorAddonStats } from '../../../src/sources/host/kernel-sensor/sensor';
import { kernelDev, kernelFilter } from '../../../src/sources/host/kernel-sensor/settings';

// Layout of native/bpf/sensor_events.h, written here by hand to test the decoder against it.
function header(type: number, size: number, o: { pid?: number; flags?: number; comm?: string } = {}): Buffer {
  const b = Buffer.alloc(80);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(size, 4);
  b.writeUInt32LE(o.pid ?? 100, 8);
  b.writeUInt32LE(o.pid ?? 100, 12);
  b.writeUInt32LE(1, 16);
  b.writeUInt32LE(1000, 20);
  b.writeUInt32LE(1000, 24);
  b.writeUInt32LE(0, 28);
  b.writeUInt32LE(o.flags ?? 0, 32);
  b.writeBigUInt64LE(7n, 40);
  b.writeBigUInt64LE(9n, 48);
  b.writeBigUInt64LE(123n, 56);
  b.write(o.comm ?? 'comm', 64, 'latin1');
  return b;
}

function exec(exe: string, cwd: string, tty: string, argv: Buffer, flags = 0): Buffer {
  const parts = [Buffer.from(exe), Buffer.from(cwd), Buffer.from(tty), argv];
  const fixed = Buffer.alloc(24);
  parts.forEach((p, i) => fixed.writeUInt32LE(p.length, i * 4));
  fixed.writeUInt32LE(argv.length + 10, 16);
  const size = 80 + 24 + parts.reduce((n, p) => n + p.length, 0);
  return Buffer.concat([header(1, size, { flags }), fixed, ...parts]);
}

function file(op: number, p: string, p2 = '', flags = 0): Buffer {
  const fixed = Buffer.alloc(24);
  fixed.writeUInt32LE(op, 0);
  fixed.writeUInt32LE(Buffer.byteLength(p), 8);
  fixed.writeUInt32LE(Buffer.byteLength(p2), 12);
  const size = 104 + Buffer.byteLength(p) + Buffer.byteLength(p2);
  return Buffer.concat([header(7, size, { flags }), fixed, Buffer.from(p), Buffer.from(p2)]);
}

test('exec, exit and file records decode; argv keeps empty arguments; relative paths are normalised', () => {
  const exit = Buffer.concat([header(2, 88), Buffer.from([0x00, 0x03, 0, 0, 0, 0, 0, 0])]);
  const buf = Buffer.concat([
    exec('/usr/bin/true', '/tmp', 'pts0', Buffer.from('true\0a b\0\0c\0'), 0x1),
    exit,
    file(4, '/etc/x/../passwd', '/etc/./passwd-', 0x10),
  ]);
  const { records, malformed } = decodeRecords(buf, true);
  assert.equal(malformed, 0);
  assert.equal(records.length, 3);
  const [e, x, f] = records;
  assert.equal(e?.type, 'exec');
  if (e?.type === 'exec') {
    assert.deepEqual(e.argv, ['true', 'a b', '', 'c']);
    assert.equal(e.executable, '/usr/bin/true');
    assert.equal(e.cwd, '/tmp');
    assert.equal(e.tty, 'pts0');
    assert.equal(e.argvTruncated, true);
    assert.equal(e.cgroupId, 7n);
    assert.equal(e.cgroupV1Id, 9n);
  }
  assert.equal(x?.type === 'exit' && x.waitStatus, 0x300);
  assert.equal(f?.type, 'file');
  if (f?.type === 'file') {
    assert.equal(f.operation, 'Rename');
    assert.equal(f.path, '/etc/passwd');
    assert.equal(f.targetPath, '/etc/passwd-');
  }
});

test('hostile records: lengths beyond the record, unknown types and short sizes are counted, never read out of bounds', () => {
  const good = file(1, '/etc/shadow');
  const lying = file(1, '/etc/shadow');
  lying.writeUInt32LE(1_000_000, 88); // path_len far past the record
  const unknown = Buffer.concat([header(99, 80)]);
  const { records, malformed } = decodeRecords(Buffer.concat([lying, unknown, good]), true);
  assert.equal(malformed, 2);
  assert.deepEqual(records.map((r) => r.type), ['file']);

  const tooShort = header(1, 12);
  assert.deepEqual(decodeRecords(Buffer.concat([tooShort, good]), true), { records: [], malformed: 1 });
  const overrun = header(7, 5000);
  assert.equal(decodeRecords(overrun, true).malformed, 1);
  assert.deepEqual(decodeRecords(Buffer.alloc(3), true), { records: [], malformed: 0 });
});

test('binary argv and paths (invalid UTF-8, control characters) decode to strings without throwing', () => {
  const argv = Buffer.concat([Buffer.from('x\0'), Buffer.from([0xff, 0xfe, 0x1b, 0x5b, 0x32, 0x4a, 0x00])]);
  const { records } = decodeRecords(exec('/bin/\u0007', '/', '', argv), true);
  assert.equal(records.length, 1);
  assert.equal(splitArgv(Buffer.from('a\0b')).length, 2, 'cut argv keeps its partial last argument');
  assert.equal(normalizeAbsolute('/../../etc//./shadow'), '/etc/shadow');
});

test('container ids are found in the cgroup paths of Docker (cgroupfs and systemd drivers), containerd and kubelet', () => {
  const id = 'a'.repeat(64);
  assert.equal(containerIdInPath(`/docker/${id}`), id);
  assert.equal(containerIdInPath(`/system.slice/docker-${id}.scope`), id);
  assert.equal(containerIdInPath(`/kubepods/besteffort/pod1234/${id}`), id);
  assert.equal(containerIdInPath('/user.slice/user-0.slice'), undefined);
  assert.equal(containerIdInPath(`/docker/${id}x`), undefined, 'not a 64-hex component');
});

test('the kernel filter refuses paths it cannot hold and merges write/read watches', () => {
  const f = kernelFilter(['/etc/shadow', '/var/log/'], ['/etc/shadow'], ['.bash_history']);
  assert.deepEqual(f.prefixes.find((p) => p.path === '/etc/shadow'), { path: '/etc/shadow', watch: 3 });
  assert.deepEqual(f.names.sort((a, b) => a.name.localeCompare(b.name)), [{ name: '.bash_history', watch: 1 }, { name: 'shadow', watch: 2 }]);
  assert.throws(() => kernelFilter(['etc/shadow'], []), /not absolute/);
  assert.throws(() => kernelFilter([`/${'a'.repeat(200)}`], []), /longer than 128 bytes/);
  assert.throws(() => kernelFilter([], ['/etc/']), /must be a file name/);
  assert.throws(() => kernelFilter([], [], ['a/b']), /must be a file name/);
  assert.throws(() => kernelFilter([], [], ['x'.repeat(40)]), /longer than 30 bytes/);
});

test('losses are reported per record type and once they grow, never silently', () => {
  const stats = (drops: number[], dropped: number): SensorAddonStats => ({
    records: 0, bytes: 0, batches: 0, droppedRecords: dropped, ringBufferBytes: 65536, threadCpuNs: 0, kernelDrops: drops, attached: [], skipped: [],
  });
  const t = new LossTracker([1, 2]);
  assert.equal(lossReport(t, stats([0, 0, 0, 0, 0, 0, 0, 0], 0)).total, 0);
  const r = lossReport(t, stats([0, 5, 1, 9, 0, 0, 0, 0], 2));
  assert.equal(r.total, 8, 'its own types (exec 5, exit 1) and the shared consumer drops (2), not connect (9)');
  assert.equal(r.grew, true);
  assert.match(r.text, /5 execRecordsLostInKernel, 1 exitRecordsLostInKernel, 2 recordsDroppedConsumerSlow/);
  assert.equal(lossReport(t, stats([0, 5, 1, 9, 0, 0, 0, 0], 2)).grew, false);
});

test("stat's device numbers are turned into the kernel's encoding (MAJOR << 20 | MINOR)", () => {
  assert.equal(kernelDev(0xfe00), 254 << 20, 'major 254, minor 0');
  assert.equal(kernelDev(0x0801), (8 << 20) | 1, 'sda1');
  assert.equal(kernelDev(0x100300), (3 << 20) | 256, 'a minor above 255 (its high bits from bit 20 of st_dev)');
});
