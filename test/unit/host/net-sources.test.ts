import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { SettingValue } from '../../../src/config/settings';
import { connectionsSource, type ConnectionsSource } from '../../../src/sources/host/connections';
import { listeningPortsSource } from '../../../src/sources/host/listening-ports';
import { connectionCreatePayload, listeningPortPayload } from '../../../src/sources/host/net/socket-payloads';
import { SocketOwnerFinder } from '../../../src/sources/host/net/socket-owners';
import { decodeSockDiagRecords } from '../../../src/sources/host/net/sock-diag';
import { TcpState } from '../../../src/sources/host/net/socket-table';
import { parseTcpOpenCounters } from '../../../src/sources/host/net/tcp-open-counters';
import { SourceUnavailableError, type SourceDefinition } from '../../../src/sources/source';
import { assertValidEvents, FakeNetHost, recordingContext, row, v4 } from './net-fixtures';

const V6_LOOP = '00000000000000000000000001000000';
const V6_ANY = '00000000000000000000000000000000';
const V6_DOC = 'B80D0120000000000000000002000000'; // 2001:db8::2
const V6_PEER = 'B80D0120000000000000000009000000'; // 2001:db8::9
const port = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0');

function context(def: SourceDefinition, hostRoot: string, overrides: Record<string, SettingValue> = {}) {
  // A prepared host root is read through its text tables; netlink would answer for the real kernel.
  return recordingContext(def, hostRoot, def === connectionsSource ? { connectionsMethod: 'procfs', ...overrides } : overrides);
}

function fakeHost(): FakeNetHost {
  const host = new FakeNetHost();
  host.process({ pid: 10, ppid: 1, comm: 'sshd', uid: 0, exe: '/usr/sbin/sshd', argv: ['/usr/sbin/sshd', '-D'], startTime: 100 }, [501, 601]);
  host.process({ pid: 20, ppid: 1, comm: 'curl', uid: 1000, exe: '/usr/bin/curl', argv: ['curl', 'https://example.com'], startTime: 200 }, [602]);
  host.process({ pid: 30, ppid: 1, comm: 'dnsmasq', uid: 0, exe: '/usr/sbin/dnsmasq', argv: ['dnsmasq', '-k'], startTime: 300 }, [503, 504]);
  host.process({ pid: 40, ppid: 1, comm: 'kworker', uid: 0, argv: [], startTime: 400 }, [605]);
  return host;
}

test('SocketOwnerFinder maps inodes to processes via fd links, stops when all are found, skips garbage links', () => {
  const host = fakeHost();
  try {
    const finder = new SocketOwnerFinder(host.proc);
    const owners = finder.find([602, 501, 0, 999]);
    assert.deepEqual(owners.get(602), { pid: 20, executable: '/usr/bin/curl', commandLine: 'curl https://example.com', uid: 1000, comm: 'curl' });
    assert.equal(owners.get(501)?.pid, 10);
    assert.equal(owners.has(999), false);
    assert.equal(finder.lastScan.scannedProcesses, 4, 'an inode that is nowhere makes the scan visit every process');
    assert.equal(finder.find([605]).get(605)?.pid, 40);
    assert.equal(finder.lastScan.scannedProcesses, 4, 'pid 40 is the last in pid order');
    const again = finder.find([605]);
    assert.equal(again.get(605)?.pid, 40);
    assert.equal(finder.lastScan.scannedProcesses, 1, 'recent owners are looked at first and the scan stops when done');
    assert.equal(finder.find([]).size, 0);
    assert.equal(finder.lastScan.scannedProcesses, 0, 'nothing wanted: no scan at all');
  } finally {
    host.cleanup();
  }
});

test('Connections on a prepared host root: new connections once, with direction, process, IPv6, missing owner named', async () => {
  const host = fakeHost();
  const { ctx, events, statuses, log } = context(connectionsSource, host.root, { connectionsPollInterval: 'PT1H' });
  const listeners = [row(0, v4('0.0.0.0', 22), v4('0.0.0.0', 0), TcpState.LISTEN, 0, 501)];
  host.table('tcp', [...listeners, row(1, v4('10.0.0.2', 22), v4('10.0.0.9', 50000), TcpState.ESTABLISHED, 0, 600)]);
  host.table('tcp6', []);
  const source = (await connectionsSource.start(ctx)) as ConnectionsSource;
  try {
    assert.equal(events.length, 0, 'connections open at start are learnt, not reported');
    assert.equal(statuses.at(-1)?.state, 'running');
    host.table('tcp', [
      ...listeners,
      row(1, v4('10.0.0.2', 22), v4('10.0.0.9', 50000), TcpState.ESTABLISHED, 0, 600),
      row(2, v4('10.0.0.2', 22), v4('10.0.0.9', 50001), TcpState.ESTABLISHED, 0, 601),
      row(3, v4('10.0.0.2', 41000), v4('93.184.216.34', 443), TcpState.ESTABLISHED, 1000, 602),
      row(4, v4('10.0.0.2', 41001), v4('93.184.216.34', 443), TcpState.SYN_SENT, 1000, 603),
      row(5, v4('127.0.0.1', 41002), v4('127.0.0.1', 22), TcpState.ESTABLISHED, 0, 604),
      'this line is garbage',
    ]);
    host.table('tcp6', [row(0, `${V6_DOC}:${port(42000)}`, `${V6_PEER}:${port(8883)}`, TcpState.ESTABLISHED, 0, 605)]);
    source.pollNow();
    const items = events.map((e) => e.Payload[0]);
    assert.deepEqual(items, [
      { RemoteAddress: '10.0.0.9', RemotePort: '50001', LocalAddress: '10.0.0.2', LocalPort: '22', Direction: 'In', Protocol: 'TCP', ProcessId: 10, UserId: '0', Executable: '/usr/sbin/sshd', CommandLine: '/usr/sbin/sshd -D' },
      { RemoteAddress: '93.184.216.34', RemotePort: '443', LocalAddress: '10.0.0.2', LocalPort: '41000', Direction: 'Out', Protocol: 'TCP', ProcessId: 20, UserId: '1000', Executable: '/usr/bin/curl', CommandLine: 'curl https://example.com' },
      { RemoteAddress: '93.184.216.34', RemotePort: '443', LocalAddress: '10.0.0.2', LocalPort: '41001', Direction: 'Out', Protocol: 'TCP', ProcessId: -1, UserId: '1000', Executable: '', ExtraDetails: { MissingFields: 'ProcessId,Executable,CommandLine', TcpState: 'SYN_SENT' } },
      { RemoteAddress: '2001:db8::9', RemotePort: '8883', LocalAddress: '2001:db8::2', LocalPort: '42000', Direction: 'Out', Protocol: 'TCP', ProcessId: 40, UserId: '0', Executable: '[kworker]', ExtraDetails: { MissingFields: 'Executable,CommandLine' } },
    ]);
    assert.ok(events.every((e) => e.Category === 'Triggered' && e.Name === 'ConnectionCreate' && e.Payload.length === 1));
    assertValidEvents(events);
    assert.ok(log.warnings().includes('malformed lines in kernel socket table skipped'), log.warnings().join('|'));
    source.pollNow();
    assert.equal(events.length, 4, 'each connection is reported once');
    assert.equal(source.stats().ownerScans, 1, 'file descriptors are read only when there are new connections');
  } finally {
    await source.stop();
    host.cleanup();
  }
});

test('Connections: connectionsIncludeLoopback reports loopback; eventPriority Off reports nothing and reads no fds', async () => {
  const host = fakeHost();
  const started: ConnectionsSource[] = [];
  try {
    host.table('tcp', []);
    const loop = context(connectionsSource, host.root, { connectionsPollInterval: 'PT1H', connectionsIncludeLoopback: true });
    const s1 = (await connectionsSource.start(loop.ctx)) as ConnectionsSource;
    started.push(s1);
    const off = context(connectionsSource, host.root, { connectionsPollInterval: 'PT1H', eventPriorityConnectionCreate: 'Off' });
    const s2 = (await connectionsSource.start(off.ctx)) as ConnectionsSource;
    started.push(s2);
    host.table('tcp', [row(0, v4('127.0.0.1', 41002), v4('127.0.0.1', 22), TcpState.ESTABLISHED, 0, 601)]);
    s1.pollNow();
    s2.pollNow();
    assert.deepEqual(loop.events.map((e) => [e.Payload[0]?.RemoteAddress, e.Payload[0]?.ProcessId, e.Payload[0]?.Direction]), [['127.0.0.1', 10, 'Out']]);
    assert.equal(off.events.length, 0);
    assert.equal(s2.stats().ownerScans, 0);
  } finally {
    for (const s of started) await s.stop();
    host.cleanup();
  }
});

test('Connections and ListeningPorts refuse to start without socket tables, with a reason', async () => {
  const host = new FakeNetHost();
  try {
    host.process({ pid: 5, ppid: 1, comm: 'x', uid: 0, argv: ['x'], startTime: 1 }, []);
    for (const def of [connectionsSource, listeningPortsSource]) {
      await assert.rejects(def.start(context(def, host.root).ctx), (err: unknown) => err instanceof SourceUnavailableError && /no kernel socket tables readable/.test(err.reason));
    }
  } finally {
    host.cleanup();
  }
});

test('ListeningPorts on a prepared host root: TCP listeners and bound UDP, v4 and v6, with processes; duplicates merged', async () => {
  const host = fakeHost();
  try {
    host.table('tcp', [
      row(0, v4('0.0.0.0', 22), v4('0.0.0.0', 0), TcpState.LISTEN, 0, 501),
      row(1, v4('10.0.0.2', 22), v4('10.0.0.9', 50000), TcpState.ESTABLISHED, 0, 600),
      row(2, v4('0.0.0.0', 8080), v4('0.0.0.0', 0), TcpState.LISTEN, 33, 700),
      row(3, v4('0.0.0.0', 8080), v4('0.0.0.0', 0), TcpState.LISTEN, 33, 701), // SO_REUSEPORT twin
      '   4: 0100007F:ZZZZ',
    ]);
    host.table('tcp6', [row(0, `${V6_ANY}:${port(22)}`, `${V6_ANY}:0000`, TcpState.LISTEN, 0, 502)]);
    host.table('udp', [
      row(0, v4('127.0.0.1', 53), v4('0.0.0.0', 0), TcpState.CLOSE, 0, 503),
      row(1, v4('10.0.0.2', 40000), v4('10.0.0.9', 53), TcpState.ESTABLISHED, 0, 506), // connected UDP: not a listener
    ]);
    host.table('udp6', [row(0, `${V6_LOOP}:${port(53)}`, `${V6_ANY}:0000`, TcpState.CLOSE, 0, 504)]);
    const { ctx, events, log } = context(listeningPortsSource, host.root);
    const source = await listeningPortsSource.start(ctx); // no timer: nothing to stop on failure
    await source.snapshot!();
    assert.equal(events.length, 1);
    const [event] = events;
    assert.equal(event!.Category, 'Periodic');
    assert.equal(event!.IsEmpty, false);
    const sshd = { UserId: '0', ProcessId: '10', Executable: '/usr/sbin/sshd', CommandLine: '/usr/sbin/sshd -D' };
    const dnsmasq = { UserId: '0', ProcessId: '30', Executable: '/usr/sbin/dnsmasq', CommandLine: 'dnsmasq -k' };
    assert.deepEqual(event!.Payload, [
      { LocalAddress: '0.0.0.0', LocalPort: '22', Protocol: 'TCP', ExtraDetails: sshd },
      { LocalAddress: '::', LocalPort: '22', Protocol: 'TCP', ExtraDetails: { UserId: '0', MissingFields: 'ProcessId,Executable,CommandLine' } },
      { LocalAddress: '0.0.0.0', LocalPort: '8080', Protocol: 'TCP', ExtraDetails: { UserId: '33', MissingFields: 'ProcessId,Executable,CommandLine' } },
      { LocalAddress: '127.0.0.1', LocalPort: '53', Protocol: 'UDP', ExtraDetails: dnsmasq },
      { LocalAddress: '::1', LocalPort: '53', Protocol: 'UDP', ExtraDetails: dnsmasq },
    ]);
    assertValidEvents(events);
    assert.ok(log.warnings().includes('malformed lines in kernel socket table skipped'));
  } finally {
    host.cleanup();
  }
});

test('payload builders: long command lines are cut in ListeningPorts; an empty snapshot is IsEmpty and valid', async () => {
  const entry = { protocol: 'TCP' as const, family: 4 as const, localAddress: '0.0.0.0', localPort: 1, remoteAddress: '0.0.0.0', remotePort: 0, state: TcpState.LISTEN, uid: 0, inode: 1 };
  const item = listeningPortPayload(entry, { pid: 1, executable: '/x', commandLine: 'a'.repeat(1000), uid: 0, comm: 'x' });
  assert.equal((item.ExtraDetails?.CommandLine ?? '').length, 256);
  assert.equal(item.ExtraDetails?.CommandLineTruncated, 'true');
  assert.deepEqual(connectionCreatePayload({ ...entry, state: TcpState.ESTABLISHED }, 'Out', undefined).ExtraDetails, { MissingFields: 'ProcessId,Executable,CommandLine' });

  const host = new FakeNetHost();
  try {
    mkdirSync(path.join(host.proc, '1'));
    host.table('tcp', []);
    const { ctx, events } = context(listeningPortsSource, host.root);
    const source = await listeningPortsSource.start(ctx);
    await source.snapshot!();
    assert.equal(events[0]?.IsEmpty, true);
    assert.deepEqual(events[0]?.Payload, []);
    assertValidEvents(events);
    await source.stop();
  } finally {
    host.cleanup();
  }
});

function snmp(active: number, passive: number): string {
  return [
    'Ip: Forwarding DefaultTTL InReceives',
    'Ip: 1 64 100',
    'Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors',
    `Tcp: 1 200 120000 -1 ${active} ${passive} 615 289 0 52078 51609 3 0 955 0`,
    'Udp: InDatagrams NoPorts',
    'Udp: 5 0',
    '',
  ].join('\n');
}

test('parseTcpOpenCounters reads ActiveOpens/PassiveOpens by header name; garbage gives undefined', () => {
  assert.deepEqual(parseTcpOpenCounters(snmp(1079, 427)), { activeOpens: '1079', passiveOpens: '427' });
  assert.equal(parseTcpOpenCounters('Tcp: ActiveOpens\n'), undefined);
  assert.equal(parseTcpOpenCounters('Tcp: ActiveOpens PassiveOpens\nTcp: x 1\n'), undefined);
  assert.equal(parseTcpOpenCounters('\u0000garbage'), undefined);
});

test('Connections reads the tables only when the TCP open counters moved (and the poll after), or when none are readable', async () => {
  const host = fakeHost();
  const started: ConnectionsSource[] = [];
  try {
    const established = (n: number): string[] => Array.from({ length: n }, (_, i) => row(i, v4('10.0.0.2', 41000 + i), v4('93.184.216.34', 443), TcpState.ESTABLISHED, 1000, 602 + i));
    host.table('tcp', []);
    writeFileSync(path.join(host.proc, 'net', 'snmp'), snmp(10, 5));
    const { ctx, events } = context(connectionsSource, host.root, { connectionsPollInterval: 'PT1H' });
    const source = (await connectionsSource.start(ctx)) as ConnectionsSource;
    started.push(source);
    source.pollNow(); // the poll after the first change (start) still reads
    const reads = source.stats().tableReads;
    host.table('tcp', established(1)); // a socket with no counter move (not possible in a real kernel)
    source.pollNow();
    source.pollNow();
    assert.equal(source.stats().tableReads, reads, 'unchanged counters: no table read');
    assert.equal(events.length, 0);
    writeFileSync(path.join(host.proc, 'net', 'snmp'), snmp(11, 5));
    source.pollNow();
    assert.equal(events.length, 1);
    assert.equal(events[0]!.Payload[0]!.ProcessId, 20);
    source.pollNow();
    assert.equal(source.stats().tableReads, reads + 2, 'the change and the poll after it');
    source.pollNow();
    assert.equal(source.stats().tableReads, reads + 2);

    rmSync(path.join(host.proc, 'net', 'snmp'));
    source.pollNow();
    source.pollNow();
    assert.equal(source.stats().tableReads, reads + 4, 'without counters every poll reads');
  } finally {
    for (const s of started) await s.stop();
    host.cleanup();
  }
});

test('decodeSockDiagRecords: the addon layout, IPv4, IPv6 and v4-mapped, both byte orders', () => {
  const record = (le: boolean, family: number, state: number, sport: number, dport: number, uid: number, inode: number, src: number[], dst: number[]): Buffer => {
    const b = Buffer.alloc(48);
    b[0] = family;
    b[1] = state;
    if (le) {
      b.writeUInt16LE(sport, 2); b.writeUInt16LE(dport, 4); b.writeUInt32LE(uid, 8); b.writeUInt32LE(inode, 12);
    } else {
      b.writeUInt16BE(sport, 2); b.writeUInt16BE(dport, 4); b.writeUInt32BE(uid, 8); b.writeUInt32BE(inode, 12);
    }
    Buffer.from(src).copy(b, 16);
    Buffer.from(dst).copy(b, 32);
    return b;
  };
  const v6 = (...groups: number[]): number[] => groups.flatMap((g) => [g >> 8, g & 0xff]);
  for (const le of [true, false]) {
    const buf = Buffer.concat([
      record(le, 2, 1, 41000, 443, 1000, 4242, [10, 0, 0, 2], [93, 184, 216, 34]),
      record(le, 10, 10, 22, 0, 0, 77, v6(0, 0, 0, 0, 0, 0, 0, 0), v6(0, 0, 0, 0, 0, 0, 0, 0)),
      record(le, 10, 1, 443, 50003, 0, 78, v6(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0002), v6(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0009)),
      record(le, 10, 2, 42000, 8883, 0, 79, v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2), v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 9)),
      Buffer.alloc(10), // a partial record is ignored
    ]);
    assert.deepEqual(decodeSockDiagRecords(buf, 'TCP', le), [
      { protocol: 'TCP', family: 4, localAddress: '10.0.0.2', localPort: 41000, remoteAddress: '93.184.216.34', remotePort: 443, state: 1, uid: 1000, inode: 4242 },
      { protocol: 'TCP', family: 6, localAddress: '::', localPort: 22, remoteAddress: '::', remotePort: 0, state: 10, uid: 0, inode: 77 },
      { protocol: 'TCP', family: 6, localAddress: '10.0.0.2', localPort: 443, remoteAddress: '10.0.0.9', remotePort: 50003, state: 1, uid: 0, inode: 78 },
      { protocol: 'TCP', family: 6, localAddress: '2001:db8::2', localPort: 42000, remoteAddress: '2001:db8::9', remotePort: 8883, state: 2, uid: 0, inode: 79 },
    ]);
  }
});
