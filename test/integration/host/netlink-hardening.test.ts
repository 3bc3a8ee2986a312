import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { sockDiagReader, type SockDiagShortfall } from '../../../src/sources/host/net/sock-diag';
import { loadNativeAddon, type NativeProcRecord } from '../../../src/sources/host/common/native';

// Issue 11 item 14: the native netlink readers take only what the kernel sent, and bound what they hold.

const isRoot = process.getuid?.() === 0;
const NEEDS_ROOT = 'SKIPPED: needs root for the netlink proc connector';
const hasPython = spawnSync('python3', ['-c', 'import socket; socket.AF_NETLINK'], { stdio: 'ignore' }).status === 0;
const TCP_LISTEN = 10;
const NETLINK_CONNECTOR = 11;

async function listeners(count: number): Promise<net.Server[]> {
  const servers: net.Server[] = [];
  for (let i = 0; i < count; i++) {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
  }
  return servers;
}

test('sock_diag: a dump over maxRecords keeps the cap and counts the rest', async () => {
  const addon = loadNativeAddon().addon;
  assert.ok(addon?.sockDiagDump, 'addon with sockDiagDump');
  const servers = await listeners(40);
  try {
    const buf = addon.sockDiagDump(2, 6, 1 << TCP_LISTEN, 5);
    assert.equal(buf.length, 5 * 48);
    assert.ok((buf.droppedRecords ?? 0) >= 35, `dropped ${buf.droppedRecords}`);
    const whole = addon.sockDiagDump(2, 6, 1 << TCP_LISTEN);
    assert.equal(whole.droppedRecords, 0);
    assert.ok(whole.length >= 40 * 48);

    const seen: SockDiagShortfall[] = [];
    const reader = sockDiagReader({ maxRecords: 10, onShortfall: (s) => seen.push(s) });
    assert.ok('reader' in reader);
    assert.equal(reader.reader(['tcp'], [TCP_LISTEN]).length, 10);
    assert.ok(seen.some((s) => s.table === 'tcp' && s.droppedRecords >= 30), JSON.stringify(seen));
  } finally {
    for (const s of servers) s.close();
  }
});

/** Netlink port ids of this process's NETLINK_CONNECTOR sockets (from /proc/net/netlink, by socket inode). */
function connectorPortIds(): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const line of readFileSync('/proc/net/netlink', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 10 && Number(f[1]) === NETLINK_CONNECTOR && inodes.has(f[9]!)) ports.push(Number(f[2]));
  }
  return ports;
}

// A forged PROC_EVENT_EXEC for a pid that does not exist, unicast from an ordinary socket to each reader socket.
const FORGER = `
import socket, struct, sys
FAKE_PID = 4000001
for port in map(int, sys.argv[1:]):
    for cpu in range(64):
        event = struct.pack('=IIQii', 0x2, cpu, 0, FAKE_PID, FAKE_PID) + bytes(16)  # padded to sizeof(struct proc_event)
        cn = struct.pack('=IIIIHH', 1, 1, 0, 0, len(event), 0) + event
        msg = struct.pack('=IHHII', 16 + len(cn), 3, 0, 0, 0) + cn
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 11)
        s.sendto(msg, (port, 0))
        s.close()
`;

test('proc connector: datagrams not sent by the kernel are ignored and counted', { skip: !isRoot ? NEEDS_ROOT : !hasPython ? 'SKIPPED: python3 needed to forge a netlink datagram' : false }, async () => {
  const addon = loadNativeAddon().addon;
  assert.ok(addon);
  const records: NativeProcRecord[] = [];
  const handle = addon.open({ procRoot: '/proc', flushMs: 5 }, (batch) => records.push(...batch));
  try {
    const ports = connectorPortIds();
    assert.ok(ports.length >= 1, 'reader sockets found in /proc/net/netlink');
    const sent = spawnSync('python3', ['-c', FORGER, ...ports.map(String)], { encoding: 'utf8' });
    assert.equal(sent.status, 0, sent.stderr);
    // A real exec afterwards: once it is seen, the forged ones (sent earlier) have been read too.
    const marker = spawnSync('/bin/true');
    const deadline = Date.now() + 5000;
    while (!records.some((r) => r.type === 'exec' && r.pid === marker.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(records.some((r) => r.type === 'exec' && r.pid === marker.pid), 'the real exec is seen');
    assert.equal(records.filter((r) => r.pid === 4000001).length, 0, 'no record for the forged pid');
    assert.ok((addon.stats(handle).foreignMessages ?? 0) >= 1, 'forged datagrams counted');
  } finally {
    addon.close(handle);
  }
});
