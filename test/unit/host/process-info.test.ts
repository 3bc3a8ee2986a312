import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createEvent } from '../../../src/core/event';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { parseCmdline, parseStat, parseStatus, readProcessInfo } from '../../../src/sources/host/common/process-info';
import { decodeWaitStatus, processCreatePayload, processTerminatePayload } from '../../../src/sources/host/process-events/process-payloads';
import { parsePasswd, UserNames } from '../../../src/sources/host/process-events/user-names';
import { referenceSchemaDir } from '../../harness/paths';
import { writeFakeProcess } from './process-fake-proc';

const validator = createSchemaValidator(referenceSchemaDir());

test('parseStat cuts the name at the last parenthesis and reads ppid and start time', () => {
  const stat = parseStat('4242 (we ird) name)) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200 18446744073709551615\n');
  assert.deepEqual(stat, { pid: 4242, comm: 'we ird) name)', state: 'S', ppid: 17, startTime: 987654 });
});

test('parseStat returns undefined for garbage instead of throwing', () => {
  for (const garbage of ['', 'garbage', '12 (x', '12 (x) S notanumber', '\u0000\u0001\u0002', 'x (y) S 1 2 3', '12 (a) SS 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5']) {
    assert.equal(parseStat(garbage), undefined, JSON.stringify(garbage));
  }
});

test('parseStatus reads Name, PPid, real and effective Uid and ignores malformed lines', () => {
  const status = parseStatus('Name:\tsudo\nUmask:\t0022\nTgid:\t77\nPPid:\t12\nUid:\t1000\t0\t0\t0\nno colon here\n:\nUid:garbage');
  assert.equal(status.name, 'sudo');
  assert.equal(status.ppid, 12);
  assert.equal(status.tgid, 77);
  // The second (malformed) Uid line wins but yields no number: a caller sees uid undefined, not NaN.
  assert.equal(status.uid, undefined);
  assert.deepEqual(parseStatus('Name:\tsudo\nUid:\t1000\t0\t0\t0\n'), { name: 'sudo', uid: 1000, euid: 0 });
});

test('parseCmdline splits NUL-separated argv with or without the trailing NUL', () => {
  assert.deepEqual(parseCmdline(Buffer.from('sh\0-c\0echo x\0')), ['sh', '-c', 'echo x']);
  assert.deepEqual(parseCmdline('nginx: worker process'), ['nginx: worker process']);
  assert.deepEqual(parseCmdline(''), []);
});

test('readProcessInfo reads a prepared process and warns (never throws) on garbage', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-proc-'));
  try {
    writeFakeProcess(root, { pid: 100, ppid: 1, comm: 'nginx', uid: 33, exe: '/usr/sbin/nginx', argv: ['nginx', '-g', 'daemon off;'], startTime: 5 });
    const info = readProcessInfo(root, 100);
    assert.deepEqual(info && { ...info }, {
      pid: 100, ppid: 1, executable: '/usr/sbin/nginx', argv: ['nginx', '-g', 'daemon off;'], commandLine: 'nginx -g daemon off;', uid: 33, euid: 33, comm: 'nginx', startTime: 5,
    });

    const warnings: string[] = [];
    const warn = (message: string): void => void warnings.push(message);
    mkdirSync(path.join(root, '101'));
    writeFileSync(path.join(root, '101', 'stat'), Buffer.from([0xff, 0xfe, 0x00, 0x28, 0x29]));
    assert.equal(readProcessInfo(root, 101, warn), undefined);
    assert.match(warnings[0] ?? '', /unparsable \/proc stat/);

    mkdirSync(path.join(root, '102'));
    writeFileSync(path.join(root, '102', 'stat'), '102 (ok) S 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 9 0');
    writeFileSync(path.join(root, '102', 'status'), 'Uid:\t\u0000\u0007garbage\n');
    writeFileSync(path.join(root, '102', 'cmdline'), Buffer.from([0xc3, 0x28, 0x00, 0x41]));
    const partial = readProcessInfo(root, 102, warn);
    assert.equal(partial?.uid, undefined);
    assert.equal(partial?.executable, undefined);
    assert.equal(partial?.argv.length, 2);
    assert.match(warnings[1] ?? '', /no readable Uid line/);

    assert.equal(readProcessInfo(root, 999, warn), undefined, 'a vanished process is not a warning');
    assert.equal(warnings.length, 2);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('parsePasswd maps uids to the first name and counts malformed lines', () => {
  const { names, malformedLines } = parsePasswd('root:x:0:0:root:/root:/bin/bash\n# comment\nbroken line\nalias:x:0:0::/:/bin/sh\nwww:x:abc:1::/:/bin/sh\nsvc:x:998:998::/nonexistent:/usr/sbin/nologin\n');
  assert.equal(names.get(0), 'root');
  assert.equal(names.get(998), 'svc');
  assert.equal(names.size, 2);
  assert.equal(malformedLines, 2);
});

test('UserNames reads the host passwd through the host root and reloads it when it changes', () => {
  const hostRoot = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-host-'));
  try {
    mkdirSync(path.join(hostRoot, 'etc'));
    writeFileSync(path.join(hostRoot, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
    let now = 0;
    const users = new UserNames(hostRoot, undefined, 1000, () => now);
    assert.equal(users.name(0), 'root');
    assert.equal(users.name(1000), undefined);
    writeFileSync(path.join(hostRoot, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n');
    assert.equal(users.name(1000), undefined, 'not re-checked within the recheck interval');
    now = 1500;
    assert.equal(users.name(1000), 'alice');
  } finally {
    rmSync(hostRoot, { recursive: true, force: true });
  }
});

test('decodeWaitStatus gives the exit code, or 128 + signal for a killed process', () => {
  assert.deepEqual(decodeWaitStatus(3 << 8), { exitStatus: 3 });
  assert.deepEqual(decodeWaitStatus(0), { exitStatus: 0 });
  assert.deepEqual(decodeWaitStatus(9), { exitStatus: 137, signal: 9, coreDumped: false });
  assert.deepEqual(decodeWaitStatus(0x80 | 11), { exitStatus: 139, signal: 11, coreDumped: true });
});

test('complete and partial payloads validate against the official schemas', () => {
  const full = processCreatePayload({ pid: 5, ppid: 1, executable: '/usr/bin/passwd', argv: ['passwd'], uid: 1000, euid: 0, userName: 'alice' });
  assert.deepEqual(full, { Executable: '/usr/bin/passwd', ProcessId: 5, ParentProcessId: 1, UserId: '1000', UserName: 'alice', CommandLine: 'passwd', ExtraDetails: { EffectiveUserId: '0' } });
  const gone = processCreatePayload({ pid: 6, ppid: -1, uid: -1, euid: -1, comm: 'true', argv: [] });
  assert.deepEqual(gone, { Executable: '[true]', ProcessId: 6, ParentProcessId: -1, UserId: '', CommandLine: '', ExtraDetails: { MissingFields: 'Executable,CommandLine,ParentProcessId,UserId' } });
  const reaped = processCreatePayload({ pid: 9, ppid: 4, ppidAtExit: true, uid: -1, euid: -1, argv: [] });
  assert.deepEqual(reaped, {
    Executable: '', ProcessId: 9, ParentProcessId: 4, UserId: '', CommandLine: '',
    ExtraDetails: { ParentProcessIdAtExit: 'true', MissingFields: 'Executable,CommandLine,UserId' },
  });
  const killed = processTerminatePayload({ pid: 7, executable: '/usr/bin/sleep', exit: decodeWaitStatus(9) });
  assert.deepEqual(killed, { Executable: '/usr/bin/sleep', ProcessId: 7, ExitStatus: 137, ExtraDetails: { TerminationSignal: 'SIGKILL' } });
  const polled = processTerminatePayload({ pid: 8, comm: 'x' });
  assert.deepEqual(polled, { Executable: '[x]', ProcessId: 8, ExitStatus: -1, ExtraDetails: { MissingFields: 'Executable,ExitStatus' } });
  for (const [name, item] of [['ProcessCreate', full], ['ProcessCreate', gone], ['ProcessCreate', reaped], ['ProcessTerminate', killed], ['ProcessTerminate', polled]] as const) {
    const result = validator.validateEvent(createEvent(name, 'Triggered', [item]));
    assert.equal(result.valid, true, result.errors.join('\n'));
  }
  const wrong = validator.validateEvent(createEvent('ProcessTerminate', 'Triggered', [{ ...killed, ExitStatus: '137' }]));
  assert.equal(wrong.valid, false, 'the validator must reject a string ExitStatus');
});

