import assert from 'node:assert/strict';
import type dgram from 'node:dgram';
import type net from 'node:net';
import { test } from 'node:test';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { listeningPortsSource } from '../../../src/sources/host/listening-ports';
import { LISTENER_COMMAND_LINE_LIMIT } from '../../../src/sources/host/net/socket-payloads';
import { referenceSchemaDir } from '../../harness/paths';
import { SourceHarness } from '../../harness/source-harness';
import { bindUdp, close, kill, listenTcp, NODE_EXECUTABLE, ownCommandLine, portOf, spawnNode, ssAvailable, ssListeners, type SsListener } from './live-sockets';

const validator = createSchemaValidator(referenceSchemaDir());
const ssMissing = ssAvailable();
if (ssMissing) console.error(`SKIP: ListeningPorts ss cross-check: ${ssMissing}`);

type Item = { LocalAddress?: string; LocalPort: string; Protocol: string; ExtraDetails?: Record<string, string> };

async function snapshot(): Promise<Item[]> {
  const harness = new SourceHarness(listeningPortsSource);
  try {
    const source = await harness.start();
    await source.snapshot!();
    const events = harness.eventsNamed('ListeningPorts');
    assert.equal(events.length, 1);
    const r = validator.validateEvent(events[0]);
    assert.equal(r.valid, true, r.errors.join('\n'));
    assert.equal(events[0]!.Category, 'Periodic');
    return events[0]!.Payload as Item[];
  } finally {
    await harness.stop();
  }
}

/** The owner's details as ListeningPorts sends them: a long command line is cut and marked. */
function ownerDetails(pid: number, commandLine: string): Record<string, string> {
  const details: Record<string, string> = { UserId: String(process.getuid!()), ProcessId: String(pid), Executable: NODE_EXECUTABLE };
  if (commandLine.length > LISTENER_COMMAND_LINE_LIMIT) {
    details.CommandLine = commandLine.slice(0, LISTENER_COMMAND_LINE_LIMIT);
    details.CommandLineTruncated = 'true';
  } else details.CommandLine = commandLine;
  return details;
}

const find = (items: Item[], protocol: string, address: string, port: number): Item[] =>
  items.filter((i) => i.Protocol === protocol && i.LocalAddress === address && i.LocalPort === String(port));

test('live: TCP listeners and bound UDP sockets on 127.0.0.1 and ::1 are listed with this process and a child', async () => {
  const tcp4 = await listenTcp('127.0.0.1');
  const tcp6 = await listenTcp('::1');
  const udp4 = await bindUdp('udp4', '127.0.0.1');
  const udp6 = await bindUdp('udp6', '::1');
  const child = await spawnNode(`const s = require('dgram').createSocket('udp6'); s.bind(0, '::1', () => console.log(s.address().port));`);
  try {
    const items = await snapshot();
    const own = ownerDetails(process.pid, ownCommandLine());
    assert.deepEqual(find(items, 'TCP', '127.0.0.1', portOf(tcp4)), [{ LocalAddress: '127.0.0.1', LocalPort: String(portOf(tcp4)), Protocol: 'TCP', ExtraDetails: own }]);
    assert.deepEqual(find(items, 'TCP', '::1', portOf(tcp6)), [{ LocalAddress: '::1', LocalPort: String(portOf(tcp6)), Protocol: 'TCP', ExtraDetails: own }]);
    assert.deepEqual(find(items, 'UDP', '127.0.0.1', udp4.address().port), [{ LocalAddress: '127.0.0.1', LocalPort: String(udp4.address().port), Protocol: 'UDP', ExtraDetails: own }]);
    assert.deepEqual(find(items, 'UDP', '::1', udp6.address().port), [{ LocalAddress: '::1', LocalPort: String(udp6.address().port), Protocol: 'UDP', ExtraDetails: own }]);
    assert.deepEqual(find(items, 'UDP', '::1', Number(child.line)), [
      {
        LocalAddress: '::1', LocalPort: child.line, Protocol: 'UDP',
        ExtraDetails: ownerDetails(child.child.pid!, child.commandLine),
      },
    ]);
  } finally {
    await kill(child.child);
    await close(tcp4);
    await close(tcp6);
    udp4.close();
    udp6.close();
  }
});

test('live: a closed listener is gone from the next snapshot', async () => {
  const server = await listenTcp('127.0.0.1');
  const port = portOf(server);
  assert.equal(find(await snapshot(), 'TCP', '127.0.0.1', port).length, 1);
  await close(server);
  assert.equal(find(await snapshot(), 'TCP', '127.0.0.1', port).length, 0);
});

test('live: the snapshot agrees with `ss -tulpn` on this machine (protocol, address, port, and pid where ss shows one)', { skip: ssMissing ?? false }, async () => {
  // Sockets of our own, so the comparison is never over an empty set.
  const servers: net.Server[] = [await listenTcp('127.0.0.1'), await listenTcp('::1')];
  const udp: dgram.Socket[] = [await bindUdp('udp4', '127.0.0.1'), await bindUdp('udp6', '::1')];
  try {
    const key = (l: { protocol: string; address: string; port: number }): string => `${l.protocol} ${l.address} ${l.port}`;
    // Other tests may open and close sockets meanwhile: what ss shows both before and after must be
    // in the snapshot, and the snapshot may hold only what ss shows before or after.
    const before = ssListeners();
    const items = await snapshot();
    const after = ssListeners();
    const ours = new Set(items.map((i) => key({ protocol: i.Protocol, address: i.LocalAddress!, port: Number(i.LocalPort) })));
    const afterKeys = new Set(after.map(key));
    const stable = before.filter((l) => afterKeys.has(key(l)));
    const union = new Set([...before, ...after].map(key));
    assert.ok(stable.length >= 4, `ss shows ${stable.length} stable listeners`);
    const missing = stable.filter((l) => !ours.has(key(l))).map(key);
    assert.deepEqual(missing, [], 'listed by ss, missing from the snapshot');
    const extra = [...ours].filter((k) => !union.has(k));
    assert.deepEqual(extra, [], 'in the snapshot, not listed by ss');

    // Where ss names the owning processes, the snapshot's ProcessId is one of them.
    const byKey = new Map<string, SsListener>(stable.map((l) => [key(l), l]));
    let compared = 0;
    for (const item of items) {
      const ss = byKey.get(key({ protocol: item.Protocol, address: item.LocalAddress!, port: Number(item.LocalPort) }));
      if (!ss || ss.pids.length === 0) continue;
      assert.ok(ss.pids.includes(Number(item.ExtraDetails?.ProcessId)), `${key(ss)}: ss says pids ${ss.pids}, snapshot ${item.ExtraDetails?.ProcessId}`);
      compared++;
    }
    assert.ok(compared >= 4, `pids compared for ${compared} listeners`);
  } finally {
    for (const s of servers) await close(s);
    for (const u of udp) u.close();
  }
});
