import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionTracker } from '../../../src/sources/host/net/connection-tracker';
import { TcpState, type SocketEntry } from '../../../src/sources/host/net/socket-table';

function tcp(local: string, lport: number, remote: string, rport: number, state: number, inode: number, family: 4 | 6 = local.includes(':') ? 6 : 4): SocketEntry {
  return { protocol: 'TCP', family, localAddress: local, localPort: lport, remoteAddress: remote, remotePort: rport, state, uid: 0, inode };
}
const listen = (address: string, port: number, inode: number): SocketEntry => tcp(address, port, address.includes(':') ? '::' : '0.0.0.0', 0, TcpState.LISTEN, inode);
const EST = TcpState.ESTABLISHED;
const summary = (r: ReturnType<ConnectionTracker['diff']>): string[] => r.fresh.map((c) => `${c.direction} ${c.entry.localPort}->${c.entry.remotePort}#${c.entry.inode}`);

test('the first read only learns; a new connection is reported once, while it stays open', () => {
  const t = new ConnectionTracker({ includeLoopback: false, maxTracked: 100 });
  const ssh = listen('0.0.0.0', 22, 1);
  const old = tcp('10.0.0.2', 22, '10.0.0.9', 50000, EST, 2);
  assert.deepEqual(summary(t.diff([ssh, old])), []);
  const out = tcp('10.0.0.2', 40000, '93.184.216.34', 443, EST, 3);
  assert.deepEqual(summary(t.diff([ssh, old, out])), ['Out 40000->443#3']);
  assert.deepEqual(summary(t.diff([ssh, old, out])), []);
  assert.deepEqual(summary(t.diff([ssh, out])), []);
  assert.equal(t.tracked, 2);
});

test('direction: In on a listening port (own address, wildcard, dual-stack :: with an IPv4 peer), Out otherwise', () => {
  const t = new ConnectionTracker({ includeLoopback: false, maxTracked: 100 });
  const base = [listen('0.0.0.0', 22, 1), listen('10.0.0.2', 8080, 2), listen('::', 443, 3), listen('10.0.0.3', 9000, 4)];
  t.diff(base);
  const r = t.diff([
    ...base,
    tcp('10.0.0.2', 22, '10.0.0.9', 50001, EST, 10),
    tcp('10.0.0.2', 8080, '10.0.0.9', 50002, EST, 11),
    tcp('10.0.0.2', 443, '10.0.0.9', 50003, EST, 12, 6), // v4-mapped peer of the :: listener, in tcp6
    tcp('2001:db8::2', 443, '2001:db8::9', 50004, EST, 13),
    tcp('10.0.0.2', 9000, '10.0.0.9', 9000, EST, 14), // port 9000 listens on another address only
    tcp('10.0.0.2', 51000, '10.0.0.9', 22, EST, 15),
  ]);
  assert.deepEqual(summary(r), ['In 22->50001#10', 'In 8080->50002#11', 'In 443->50003#12', 'In 443->50004#13', 'Out 9000->9000#14', 'Out 51000->22#15']);
});

test('a listener closed right after accepting still makes the connection inbound (previous read)', () => {
  const t = new ConnectionTracker({ includeLoopback: false, maxTracked: 100 });
  t.diff([listen('0.0.0.0', 7000, 1)]);
  assert.deepEqual(summary(t.diff([tcp('10.0.0.2', 7000, '10.0.0.9', 40000, EST, 5)])), ['In 7000->40000#5']);
});

test('loopback connections are left out unless includeLoopback', () => {
  const entries = [listen('127.0.0.1', 5000, 1), tcp('127.0.0.1', 5000, '127.0.0.1', 41000, EST, 2), tcp('::1', 41001, '::1', 6000, EST, 3)];
  const without = new ConnectionTracker({ includeLoopback: false, maxTracked: 100 });
  without.diff([]);
  assert.deepEqual(summary(without.diff(entries)), []);
  const withLoopback = new ConnectionTracker({ includeLoopback: true, maxTracked: 100 });
  withLoopback.diff([]);
  assert.deepEqual(summary(withLoopback.diff(entries)), ['In 5000->41000#2', 'Out 41001->6000#3']);
});

test('SYN_SENT is reported as an attempt and not again once established; SYN_RECV, TIME_WAIT, CLOSE_WAIT are not', () => {
  const t = new ConnectionTracker({ includeLoopback: false, maxTracked: 100 });
  t.diff([]);
  const r = t.diff([
    tcp('10.0.0.2', 40000, '10.0.0.9', 443, TcpState.SYN_SENT, 7),
    tcp('10.0.0.2', 22, '10.0.0.9', 40001, TcpState.SYN_RECV, 0),
    tcp('10.0.0.2', 40002, '10.0.0.9', 443, 0x06, 0),
    tcp('10.0.0.2', 40003, '10.0.0.9', 443, 0x08, 9),
  ]);
  assert.deepEqual(summary(r), ['Out 40000->443#7']);
  assert.deepEqual(summary(t.diff([tcp('10.0.0.2', 40000, '10.0.0.9', 443, EST, 7)])), []);
});

test('a socket not yet accepted (inode 0) waits one read for its inode, and is the same connection after accept', () => {
  const t = new ConnectionTracker({ includeLoopback: false, maxTracked: 100 });
  const l = listen('0.0.0.0', 80, 1);
  t.diff([l]);
  assert.deepEqual(summary(t.diff([l, tcp('10.0.0.2', 80, '10.0.0.9', 40000, EST, 0)])), []);
  assert.deepEqual(summary(t.diff([l, tcp('10.0.0.2', 80, '10.0.0.9', 40000, EST, 21)])), ['In 80->40000#21']);
  // Never accepted: reported on the second read, without an inode, and only once.
  assert.deepEqual(summary(t.diff([l, tcp('10.0.0.2', 80, '10.0.0.9', 40001, EST, 0)])), []);
  assert.deepEqual(summary(t.diff([l, tcp('10.0.0.2', 80, '10.0.0.9', 40001, EST, 0)])), ['In 80->40001#0']);
  assert.deepEqual(summary(t.diff([l, tcp('10.0.0.2', 80, '10.0.0.9', 40001, EST, 22)])), []);
});

test('the same 4-tuple with a new socket inode is a new connection', () => {
  const t = new ConnectionTracker({ includeLoopback: false, maxTracked: 100 });
  t.diff([]);
  assert.equal(t.diff([tcp('10.0.0.2', 40000, '10.0.0.9', 443, EST, 30)]).fresh.length, 1);
  assert.deepEqual(summary(t.diff([tcp('10.0.0.2', 40000, '10.0.0.9', 443, EST, 31)])), ['Out 40000->443#31']);
});

test('a connection missing from one read (tables are not read atomically) is not reported again', () => {
  const t = new ConnectionTracker({ includeLoopback: false, maxTracked: 100, gracePolls: 2 });
  const c = tcp('10.0.0.2', 40000, '10.0.0.9', 443, EST, 40);
  t.diff([]);
  assert.equal(t.diff([c]).fresh.length, 1);
  assert.equal(t.diff([]).fresh.length, 0);
  assert.equal(t.diff([c]).fresh.length, 0, 'back after one missed read: the same connection');
  t.diff([]);
  t.diff([]);
  t.diff([]);
  assert.equal(t.tracked, 0, 'forgotten after the grace reads');
});

test('memory is bounded: beyond maxTracked new connections are counted as overflow, not reported', () => {
  const t = new ConnectionTracker({ includeLoopback: false, maxTracked: 3 });
  t.diff([]);
  const many = Array.from({ length: 5 }, (_, i) => tcp('10.0.0.2', 40000 + i, '10.0.0.9', 443, EST, 100 + i));
  const r = t.diff(many);
  assert.equal(r.fresh.length, 3);
  assert.equal(r.overflow, 2);
  assert.equal(t.tracked, 3);
  // When connections close, room is made again.
  for (let i = 0; i < 3; i++) t.diff(many.slice(3));
  const again = t.diff(many.slice(3));
  assert.equal(again.fresh.length, 2);
  assert.equal(again.overflow, 0);
});
