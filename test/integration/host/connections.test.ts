import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import type { SecurityEvent } from '../../../src/core/event';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { connectionsSource } from '../../../src/sources/host/connections';
import { sockDiagReader } from '../../../src/sources/host/net/sock-diag';
import { readSocketTables, TcpState, type SocketEntry } from '../../../src/sources/host/net/socket-table';
import { referenceSchemaDir } from '../../harness/paths';
import { UnprivilegedCopy } from '../../harness/unprivileged';
import { SourceHarness } from '../../harness/source-harness';
import { close, connectTcp, kill, listenTcp, NODE_EXECUTABLE, ownCommandLine, portOf, spawnNode } from './live-sockets';

const validator = createSchemaValidator(referenceSchemaDir());
const POLL = 'PT0.1S';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Item = Record<string, unknown>;
const items = (h: SourceHarness): Item[] => h.eventsNamed('ConnectionCreate').map((e) => e.Payload[0] as Item);
const matching = (h: SourceHarness, local: number, remote: number): Item[] =>
  items(h).filter((i) => i.LocalPort === String(local) && i.RemotePort === String(remote));

function assertAllValid(events: SecurityEvent[]): void {
  for (const e of events) {
    const r = validator.validateEvent(e);
    assert.equal(r.valid, true, `${e.Name}: ${r.errors.join('\n')}`);
  }
}

const netlink = sockDiagReader();
const NO_NETLINK = 'reason' in netlink ? `sock_diag netlink not usable here: ${netlink.reason}` : undefined;
if (NO_NETLINK) console.error(`SKIP: Connections live tests with connectionsMethod netlink: ${NO_NETLINK}`);

for (const method of ['netlink', 'procfs'] as const) {
  const skip = method === 'netlink' && NO_NETLINK ? NO_NETLINK : false;

  test(`live (${method}): inbound and outbound loopback connections on 127.0.0.1 and ::1, each once, with this process`, { skip }, async () => {
    const harness = new SourceHarness(connectionsSource, { connectionsMethod: method, connectionsPollInterval: POLL, connectionsIncludeLoopback: true });
    const quiet = new SourceHarness(connectionsSource, { connectionsMethod: method, connectionsPollInterval: POLL }); // default: loopback left out
    const server4 = await listenTcp('127.0.0.1');
    const server6 = await listenTcp('::1');
    try {
      await harness.start();
      await quiet.start();
      assert.match(harness.lastStatus()?.method ?? '', method === 'netlink' ? /^sock_diag netlink/ : /^\/proc\/net\/tcp, tcp6/);
      const client4 = await connectTcp('127.0.0.1', portOf(server4));
      const client6 = await connectTcp('::1', portOf(server6));
      const pairs = [
        { family: 'IPv4', address: '127.0.0.1', server: portOf(server4), client: client4.localPort! },
        { family: 'IPv6', address: '::1', server: portOf(server6), client: client6.localPort! },
      ];
      await harness.waitFor(() => pairs.every((p) => matching(harness, p.server, p.client).length > 0 && matching(harness, p.client, p.server).length > 0));
      await sleep(500); // five more polls: nothing may be reported twice
      const own = { ProcessId: process.pid, UserId: String(process.getuid!()), Executable: NODE_EXECUTABLE, CommandLine: ownCommandLine() };
      for (const p of pairs) {
        assert.deepEqual(matching(harness, p.server, p.client), [
          { RemoteAddress: p.address, RemotePort: String(p.client), LocalAddress: p.address, LocalPort: String(p.server), Direction: 'In', Protocol: 'TCP', ...own },
        ], `${p.family} inbound`);
        assert.deepEqual(matching(harness, p.client, p.server), [
          { RemoteAddress: p.address, RemotePort: String(p.server), LocalAddress: p.address, LocalPort: String(p.client), Direction: 'Out', Protocol: 'TCP', ...own },
        ], `${p.family} outbound`);
        assert.equal(matching(quiet, p.server, p.client).length + matching(quiet, p.client, p.server).length, 0, 'loopback is left out by default');
      }
      assertAllValid(harness.eventsNamed('ConnectionCreate'));
      client4.destroy();
      client6.destroy();
    } finally {
      await harness.stop();
      await quiet.stop();
      await close(server4);
      await close(server6);
    }
  });

  test(`live (${method}): a child process connecting is reported with its own pid, executable and command line`, { skip }, async () => {
    const harness = new SourceHarness(connectionsSource, { connectionsMethod: method, connectionsPollInterval: POLL, connectionsIncludeLoopback: true });
    const server = await listenTcp('::1');
    let child: Awaited<ReturnType<typeof spawnNode>> | undefined;
    try {
      await harness.start();
      const port = portOf(server);
      child = await spawnNode(`const s = require('net').connect(${port}, '::1', () => console.log(s.localPort)); setTimeout(() => {}, 30000);`);
      const clientPort = Number(child.line);
      await harness.waitFor(() => matching(harness, clientPort, port).length > 0 && matching(harness, port, clientPort).length > 0);
      await sleep(300);
      assert.deepEqual(matching(harness, clientPort, port), [
        {
          RemoteAddress: '::1', RemotePort: String(port), LocalAddress: '::1', LocalPort: String(clientPort), Direction: 'Out', Protocol: 'TCP',
          ProcessId: child.child.pid, UserId: String(process.getuid!()), Executable: NODE_EXECUTABLE, CommandLine: child.commandLine,
        },
      ]);
      assert.equal(matching(harness, port, clientPort)[0]?.ProcessId, process.pid, 'the accepting side belongs to this process');
      assert.equal(matching(harness, port, clientPort)[0]?.Direction, 'In');
      assertAllValid(harness.eventsNamed('ConnectionCreate'));
    } finally {
      if (child) await kill(child.child);
      await harness.stop();
      await close(server);
    }
  });

  test(`live (${method}): a second connection to the same server is a new report; TIME_WAIT after close is not`, { skip }, async () => {
    const harness = new SourceHarness(connectionsSource, { connectionsMethod: method, connectionsPollInterval: POLL, connectionsIncludeLoopback: true });
    const server = await listenTcp('127.0.0.1');
    try {
      const source = (await harness.start()) as import('../../../src/sources/host/connections').ConnectionsSource;
      const port = portOf(server);
      const first = await connectTcp('127.0.0.1', port);
      const firstPort = first.localPort!; // a destroyed socket forgets its port
      await harness.waitFor(() => matching(harness, firstPort, port).length === 1 && matching(harness, port, firstPort).length === 1);
      first.destroy();
      const second = await connectTcp('127.0.0.1', port);
      const secondPort = second.localPort!;
      await harness.waitFor(() => matching(harness, secondPort, port).length === 1 && matching(harness, port, secondPort).length === 1);
      assert.notEqual(secondPort, firstPort);
      second.destroy();
      await sleep(300);
      assert.equal(matching(harness, firstPort, port).length, 1);
      assert.equal(matching(harness, port, firstPort).length, 1);
      assert.equal(matching(harness, port, secondPort).length, 1);
      assert.ok(source.stats().polls >= 3, 'the timer keeps polling');
    } finally {
      await harness.stop();
      await close(server);
    }
  });

}

test('live: sock_diag netlink and /proc/net/tcp* list the same sockets for our own connections', { skip: NO_NETLINK ?? false }, async () => {
  const server4 = await listenTcp('127.0.0.1');
  const server6 = await listenTcp('::1');
  const clients = [await connectTcp('127.0.0.1', portOf(server4)), await connectTcp('::1', portOf(server6))];
  try {
    await sleep(50); // accepted
    const ports = new Set([portOf(server4), portOf(server6)]);
    const ours = (e: SocketEntry): boolean => ports.has(e.localPort) || ports.has(e.remotePort);
    const key = (e: SocketEntry): string => JSON.stringify(e);
    const states = [TcpState.ESTABLISHED, TcpState.SYN_SENT, TcpState.LISTEN];
    const viaNetlink = ('reader' in netlink ? netlink.reader(['tcp', 'tcp6'], states) : []).filter(ours).map(key).sort();
    const viaProcfs = readSocketTables('/proc/net', ['tcp', 'tcp6']).filter((e) => ours(e) && states.includes(e.state as 1 | 2 | 10)).map(key).sort();
    assert.equal(viaProcfs.length, 6, 'two listeners and two connections with both ends');
    assert.deepEqual(viaNetlink, viaProcfs);
  } finally {
    for (const c of clients) c.destroy();
    await close(server4);
    await close(server6);
  }
});

test('live: without permission to read other processes\' fds (uid 65534), owners are not found and counted as denied', async (t) => {
  if (process.getuid?.() !== 0) {
    console.error('SKIP: fd permission test needs root to start a child as uid 65534');
    return;
  }
  const server = await listenTcp('127.0.0.1');
  try {
    const port = portOf(server);
    const entry = readSocketTables('/proc/net', ['tcp']).find((e) => e.localPort === port && e.state === 0x0a);
    assert.ok(entry && entry.inode > 0, 'listening socket found in /proc/net/tcp');
    // The checkout and the Node binary may be where uid 65534 cannot enter: run copies of both.
    const copy = new UnprivilegedCopy(['src']);
    t.after(() => copy.remove());
    const finderModule = copy.dist(path.join('src', 'sources', 'host', 'net', 'socket-owners.js'));
    const script = `const { SocketOwnerFinder } = require(${JSON.stringify(finderModule)}); const f = new SocketOwnerFinder('/proc'); const owners = f.find([${entry.inode}]); console.log(JSON.stringify({ found: owners.size, ...f.lastScan }));`;
    const r = spawnSync(copy.node, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8', cwd: copy.dir });
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { found: number; deniedProcesses: number };
    assert.equal(result.found, 0);
    assert.ok(result.deniedProcesses > 0, JSON.stringify(result));
  } finally {
    await close(server);
  }
});
