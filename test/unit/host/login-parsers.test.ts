import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSshdLine, type SshdLogin } from '../../../src/sources/host/login/sshd-log';
import { detectRecordSizeOfBuffer, parseUtmpRecords, UT_TYPES } from '../../../src/sources/host/login/utmp';
import { to400ByteRecords, utmpdumpMissing, utmpRecords, type UtmpText } from '../../harness/utmp';

const missing = utmpdumpMissing();
if (missing) console.error(`SKIP: ${missing}`);

const RECORDS: UtmpText[] = [
  { type: 2, pid: 0, id: '~~', user: 'reboot', line: '~', host: '6.1.0-27-amd64', addr: '0.0.0.0', time: '2026-11-23T09:00:00,000000+00:00' },
  { type: 7, pid: 4321, id: 'ts/0', user: 'alice', line: 'pts/0', host: '192.0.2.10', addr: '192.0.2.10', time: '2026-11-23T10:00:00,250000+00:00' },
  { type: 7, pid: 4400, id: 'ts/1', user: 'bob', line: 'pts/1', host: '2001:db8::5:1', addr: '2001:db8::5:1', time: '2026-11-23T10:05:00,000000+00:00' },
  { type: 8, pid: 4321, id: 'ts/0', user: '', line: 'pts/0', host: '', addr: '0.0.0.0', time: '2026-11-23T11:00:00,000000+00:00' },
];

function checkRecords(buf: Buffer, size: 384 | 400): void {
  assert.equal(detectRecordSizeOfBuffer(buf), size);
  const { records, rest } = parseUtmpRecords(buf, size);
  assert.equal(rest, 0);
  assert.equal(records.length, 4);
  assert.equal(records[0]!.type, UT_TYPES.BOOT_TIME);
  assert.deepEqual(
    { type: records[1]!.type, pid: records[1]!.pid, line: records[1]!.line, user: records[1]!.user, host: records[1]!.host, address: records[1]!.address, time: records[1]!.time.toISOString() },
    { type: 7, pid: 4321, line: 'pts/0', user: 'alice', host: '192.0.2.10', address: '192.0.2.10', time: '2026-11-23T10:00:00.250Z' },
  );
  assert.equal(records[2]!.address, '2001:db8::5:1');
  assert.equal(records[2]!.user, 'bob');
  assert.equal(records[3]!.type, UT_TYPES.DEAD_PROCESS);
  assert.equal(records[3]!.address, undefined);
}

test('utmp: 384-byte records written by utmpdump -r are detected and parsed', { skip: missing }, () => {
  const buf = utmpRecords(RECORDS);
  assert.equal(buf.length, 4 * 384);
  checkRecords(buf, 384);
});

test('utmp: the same records in the 400-byte aarch64 layout are detected as such', { skip: missing }, () => {
  checkRecords(to400ByteRecords(utmpRecords(RECORDS)), 400);
});

test('utmp: a length divisible by both sizes is decided by field plausibility', { skip: missing }, () => {
  // 25 records of 384 = 24 of 400 = 9600 bytes.
  const many = Array.from({ length: 25 }, (_, i) => ({ ...RECORDS[1]!, pid: 1000 + i }));
  const buf = utmpRecords(many);
  assert.equal(buf.length % 400, 0);
  assert.equal(detectRecordSizeOfBuffer(buf), 384);
  const as400 = to400ByteRecords(utmpRecords(many.slice(0, 24)));
  assert.equal(as400.length, 9600);
  assert.equal(detectRecordSizeOfBuffer(as400), 400);
});

test('utmp: truncated final record is left over, the rest is parsed; garbage is not a layout', { skip: missing }, () => {
  const buf = Buffer.concat([utmpRecords(RECORDS), Buffer.alloc(100, 7)]);
  assert.equal(detectRecordSizeOfBuffer(buf), 384);
  const { records, rest } = parseUtmpRecords(buf, 384);
  assert.equal(records.length, 4);
  assert.equal(rest, 100);
  assert.equal(detectRecordSizeOfBuffer(Buffer.alloc(4800, 0x41)), undefined);
  assert.equal(detectRecordSizeOfBuffer(Buffer.alloc(100)), undefined);
});

test('sshd lines: Debian 12 OpenSSH formats, IPv4 and IPv6, both timestamp styles', () => {
  const host = 'gw-01';
  const cases: Array<[string, Partial<SshdLogin>]> = [
    [`2026-11-23T10:00:01.123456+00:00 ${host} sshd[1201]: Accepted publickey for alice from 2001:db8::7 port 50122 ssh2: ED25519 SHA256:Xk3Jt0n8mQ2c7w1d3Jb1cV4o9nqG5s0u2YbH7kq8Zc0`, { kind: 'accepted', method: 'publickey', user: 'alice', remote: '2001:db8::7', port: 50122, pid: 1201, invalidUser: false }],
    [`Nov 23 10:00:02 ${host} sshd[1202]: Accepted password for bob from 192.0.2.44 port 41000 ssh2`, { kind: 'accepted', method: 'password', user: 'bob', remote: '192.0.2.44', port: 41000, time: 'Nov 23 10:00:02' }],
    [`2026-11-23T10:00:03.000001+01:00 ${host} sshd[1203]: Failed password for root from 198.51.100.9 port 60222 ssh2`, { kind: 'failed', method: 'password', user: 'root', invalidUser: false }],
    [`2026-11-23T10:00:04.5+00:00 ${host} sshd[1204]: Failed password for invalid user admin from ::ffff:198.51.100.9 port 60223 ssh2`, { kind: 'failed', user: 'admin', invalidUser: true, remote: '::ffff:198.51.100.9' }],
    [`2026-11-23T10:00:05.000000+00:00 ${host} sshd[1205]: Failed publickey for alice from fe80::1%eth0 port 2222 ssh2: RSA SHA256:abc`, { kind: 'failed', method: 'publickey', remote: 'fe80::1%eth0' }],
    [`2026-11-23T10:00:06.000000+00:00 ${host} sshd[1206]: Invalid user oracle from 203.0.113.50 port 33000`, { kind: 'invalid-user', user: 'oracle', port: 33000, invalidUser: true }],
    [`2026-11-23T10:00:07.000000+00:00 ${host} sshd[1206]: Connection closed by invalid user oracle 203.0.113.50 port 33000 [preauth]`, { kind: 'closed-invalid-user', user: 'oracle', remote: '203.0.113.50' }],
    [`2026-11-23T10:00:08.000000+00:00 ${host} sshd-session[1207]: Accepted keyboard-interactive/pam for carol from 2001:db8:0:1::20 port 51515 ssh2`, { kind: 'accepted', method: 'keyboard-interactive/pam', program: 'sshd-session' }],
    [`Nov 23 10:00:10 ${host} sshd[1211]: message repeated 5 times: [ Failed password for root from 198.51.100.9 port 60300 ssh2]`, { kind: 'failed', user: 'root', port: 60300, repeated: 5 }],
    [`2026-11-23T10:00:09.000000+00:00 ${host} sshd[1208]: Failed none for invalid user  from 203.0.113.51 port 40000 ssh2`, { kind: 'failed', method: 'none', user: '', invalidUser: true }],
  ];
  for (const [line, expected] of cases) {
    const parsed = parseSshdLine(line);
    assert.ok(parsed, line);
    for (const [k, v] of Object.entries(expected)) assert.deepEqual(parsed[k as keyof typeof parsed], v, `${k} of ${line}`);
  }
  for (const line of [
    `2026-11-23T10:00:10.000000+00:00 ${host} sshd[1209]: pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)`,
    `2026-11-23T10:00:11.000000+00:00 ${host} sshd[1209]: Received disconnect from 192.0.2.44 port 41000:11: disconnected by user`,
    `2026-11-23T10:00:12.000000+00:00 ${host} CRON[77]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)`,
    `2026-11-23T10:00:13.000000+00:00 ${host} sshd[1210]: Server listening on :: port 22.`,
    'garbage \u0000\u0001 line',
    '',
  ]) {
    assert.equal(parseSshdLine(line), undefined, line);
  }
});
