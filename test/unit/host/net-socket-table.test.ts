import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { decodeHexAddress, formatIpv6, isLoopbackAddress } from '../../../src/sources/host/net/ip-address';
import { parseSocketTable, readSocketTables, TcpState } from '../../../src/sources/host/net/socket-table';
import { TCP6_HEADER, TCP_HEADER, UDP_HEADER } from './net-fixtures';

test('IPv4 hex is little-endian per 32-bit word on LE hosts, as printed on BE hosts', () => {
  assert.equal(decodeHexAddress('0100007F', true), '127.0.0.1');
  assert.equal(decodeHexAddress('0101A8C0', true), '192.168.1.1');
  assert.equal(decodeHexAddress('7F000001', false), '127.0.0.1');
  assert.equal(decodeHexAddress('00000000', true), '0.0.0.0');
});

test('IPv6 hex: each of the four words byte-reversed (LE), canonical text (RFC 5952)', () => {
  assert.equal(decodeHexAddress('00000000000000000000000001000000', true), '::1');
  assert.equal(decodeHexAddress('00000000000000000000000000000000', true), '::');
  // 2001:db8::1 as the kernel prints it on x86_64 / aarch64
  assert.equal(decodeHexAddress('B80D0120000000000000000001000000', true), '2001:db8::1');
  assert.equal(decodeHexAddress('20010DB8000000000000000000000001', false), '2001:db8::1');
  // fe80::215:5dff:fe00:102
  assert.equal(decodeHexAddress('000080FE00000000FF5D1502020100FE', true), 'fe80::215:5dff:fe00:102');
});

test('IPv4-mapped IPv6 addresses come out as dotted IPv4', () => {
  assert.equal(decodeHexAddress('0000000000000000FFFF00000100007F', true), '127.0.0.1');
  assert.equal(decodeHexAddress('00000000000000000000FFFFC0000280', false), '192.0.2.128');
});

test('formatIpv6 compresses the longest run of two or more zero groups only', () => {
  const bytes = (groups: number[]): Buffer => {
    const b = Buffer.alloc(16);
    groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
    return b;
  };
  assert.equal(formatIpv6(bytes([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1])), '2001:db8::1:0:0:1');
  assert.equal(formatIpv6(bytes([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1])), '2001:db8:0:1:1:1:1:1');
  assert.equal(formatIpv6(bytes([0x2001, 0, 0, 1, 0, 0, 0, 1])), '2001:0:0:1::1');
  assert.equal(formatIpv6(bytes([1, 0, 0, 0, 0, 0, 0, 0])), '1::');
});

test('bad hex gives undefined, never a throw', () => {
  for (const bad of ['', '0100007', 'ZZ00007F', '0100007F0', '000000000000000000000000010000']) assert.equal(decodeHexAddress(bad, true), undefined, bad);
});

test('isLoopbackAddress covers 127.0.0.0/8 and ::1', () => {
  assert.ok(isLoopbackAddress('127.0.0.1') && isLoopbackAddress('127.4.5.6') && isLoopbackAddress('::1'));
  assert.ok(!isLoopbackAddress('10.0.0.1') && !isLoopbackAddress('::') && !isLoopbackAddress('::2'));
});

// Real lines captured on this machine (node listening and connecting on loopback).
const REAL_TCP = [
  TCP_HEADER,
  '   0: 0100007F:93DF 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 29929 1 00000000ae68fa2e 100 0 0 10 0                     ',
  '   6: 0100007F:B6C0 0100007F:93DF 01 00000000:00000000 00:00000000 00000000     0        0 29932 2 000000007ee596d1 20 0 0 10 -1                     ',
  '   7: 0100007F:E1DA 0100007F:A1FD 06 00000000:00000000 03:00001432 00000000     0        0 0 3 00000000307db30f                                      ',
  '',
].join('\n');
const REAL_TCP6 = [
  TCP6_HEADER,
  '   0: 00000000000000000000000001000000:9DD3 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 29930 1 00000000cabc3d95 100 0 0 10 0',
  '   2: 0000000000000000FFFF00000100007F:9B19 0000000000000000FFFF00000100007F:A240 01 00000000:00000000 00:00000000 00000000  1000        0 29938 1 00000000bc4dc530 20 0 0 10 -1',
  '',
].join('\n');
const REAL_UDP6 = [
  UDP_HEADER,
  ' 3010: 00000000000000000000000001000000:972D 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 29935 2 00000000ce15c20e 0',
].join('\n');

test('parseSocketTable reads real tcp, tcp6 and udp6 rows', () => {
  const tcp = parseSocketTable(REAL_TCP, 'tcp');
  assert.equal(tcp.malformedLines, 0);
  assert.deepEqual(tcp.entries[0], {
    protocol: 'TCP', family: 4, localAddress: '127.0.0.1', localPort: 0x93df, remoteAddress: '0.0.0.0', remotePort: 0, state: TcpState.LISTEN, uid: 0, inode: 29929,
  });
  assert.deepEqual(tcp.entries.map((e) => [e.localPort, e.remotePort, e.state, e.inode]), [[37855, 0, 10, 29929], [46784, 37855, 1, 29932], [57818, 41469, 6, 0]]);
  const tcp6 = parseSocketTable(REAL_TCP6, 'tcp6');
  assert.equal(tcp6.malformedLines, 0);
  assert.deepEqual(tcp6.entries[0], {
    protocol: 'TCP', family: 6, localAddress: '::1', localPort: 40403, remoteAddress: '::', remotePort: 0, state: TcpState.LISTEN, uid: 0, inode: 29930,
  });
  assert.deepEqual(tcp6.entries[1], {
    protocol: 'TCP', family: 6, localAddress: '127.0.0.1', localPort: 39705, remoteAddress: '127.0.0.1', remotePort: 41536, state: TcpState.ESTABLISHED, uid: 1000, inode: 29938,
  });
  const udp6 = parseSocketTable(REAL_UDP6, 'udp6');
  assert.deepEqual(udp6.entries.map((e) => [e.protocol, e.localAddress, e.localPort, e.state, e.inode]), [['UDP', '::1', 38701, 7, 29935]]);
});

test('garbage and truncated lines are counted and skipped; the rest is read', () => {
  const lines = REAL_TCP.split('\n');
  const text = [
    lines[0],
    lines[1],
    '   1: 0100007F:B6C0 0100007F:93DF 01 00000000:00000000 00:00000000 000', // truncated mid-row
    'garbage \u0000\u0001 line',
    '   2: 0100007G:B6C0 0100007F:93DF 01 00000000:00000000 00:00000000 00000000     0        0 1 1', // bad hex
    '   3: 00000000000000000000000001000000:9DD3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1', // v6 row in tcp
    '   4: 0100007F:B6C0 0100007F:93DF ZZ 00000000:00000000 00:00000000 00000000     0        0 7 1', // bad state
    lines[2],
    '   5: 0100007F:B6C0', // truncated right after the address
  ].join('\n');
  const parsed = parseSocketTable(text, 'tcp');
  assert.equal(parsed.entries.length, 2);
  assert.deepEqual(parsed.entries.map((e) => e.inode), [29929, 29932]);
  assert.equal(parsed.malformedLines, 6);
});

test('readSocketTables: one warning per damaged table, missing tables are no warning', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-net-'));
  try {
    writeFileSync(path.join(dir, 'tcp'), REAL_TCP + 'not a row\n');
    writeFileSync(path.join(dir, 'tcp6'), REAL_TCP6);
    const warnings: Array<[string, Record<string, unknown>]> = [];
    const entries = readSocketTables(dir, ['tcp', 'tcp6', 'udp', 'udp6'], (m, d) => void warnings.push([m, d]));
    assert.equal(entries.length, 5);
    assert.deepEqual(warnings, [['malformed lines in kernel socket table skipped', { file: path.join(dir, 'tcp'), lines: 1 }]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
