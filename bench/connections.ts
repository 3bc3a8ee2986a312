import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { ConnectionTracker } from '../src/sources/host/net/connection-tracker';
import { SocketOwnerFinder } from '../src/sources/host/net/socket-owners';
import { readSocketTables, TcpState } from '../src/sources/host/net/socket-table';
import { sockDiagReader } from '../src/sources/host/net/sock-diag';
import { readTcpOpenCounters } from '../src/sources/host/net/tcp-open-counters';

/**
 * Cost of one Connections poll with N open loopback connections (held by a child process, so both
 * ends are in the tables: 2N sockets), against N = 0 in the same run: reading tcp + tcp6 through
 * sock_diag netlink and through the /proc/net text tables (ratio), the diff when nothing is new, the
 * owner scan for N new connections, and the counter check that lets an idle poll skip the tables.
 */

const SIZES = [0, 100, 1000, 4000];
const REPEAT = 20;
const NET_DIR = '/proc/net';

function holdConnections(n: number): Promise<ChildProcess> {
  const script = `
    const net = require('net');
    const server = net.createServer(() => {}).listen(0, '127.0.0.1', async () => {
      const port = server.address().port;
      for (let i = 0; i < ${n}; i++) await new Promise((ok, fail) => { const s = net.connect(port, '127.0.0.1', ok); s.on('error', fail); });
      console.log('ready');
    });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve(child));
    child.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
}

function timeMs(fn: () => void, repeat = REPEAT): { wall: number; cpu: number } {
  fn(); // warm
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < repeat; i++) fn();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / repeat, cpu: (c.user + c.system) / 1000 / repeat };
}

export async function run(): Promise<void> {
  console.log('## connections: one Connections poll vs open connections (loopback, both ends in the tables)');
  const counters = timeMs(() => readTcpOpenCounters(NET_DIR), 200);
  console.log(`counter check (/proc/net/snmp, every poll): ${counters.cpu.toFixed(3)} ms CPU`);
  const netlink = sockDiagReader();
  if ('reason' in netlink) console.log(`SKIPPED netlink figures: ${netlink.reason}`);
  const states = [TcpState.ESTABLISHED, TcpState.SYN_SENT, TcpState.LISTEN];
  let base: number | undefined;
  for (const n of SIZES) {
    const holder = n > 0 ? await holdConnections(n) : undefined;
    try {
      const entries = readSocketTables(NET_DIR, ['tcp', 'tcp6']);
      const established = entries.filter((e) => e.state === TcpState.ESTABLISHED).length;
      const read = timeMs(() => readSocketTables(NET_DIR, ['tcp', 'tcp6']));
      const tracker = new ConnectionTracker({ includeLoopback: true, maxTracked: 1 << 20 });
      tracker.diff(entries);
      const diff = timeMs(() => tracker.diff(entries));
      const inodes = entries.filter((e) => e.state === TcpState.ESTABLISHED).map((e) => e.inode);
      const scan = timeMs(() => new SocketOwnerFinder('/proc').find(inodes), 3);
      const viaNetlink = 'reader' in netlink ? timeMs(() => netlink.reader(['tcp', 'tcp6'], states)) : undefined;
      base ??= read.cpu;
      console.log(
        `N=${String(n).padStart(5)} (${established} established sockets on the machine): /proc/net read+parse ${read.cpu.toFixed(2)} ms CPU (x${(read.cpu / base).toFixed(1)} of N=0)` +
          (viaNetlink ? `, sock_diag read+decode ${viaNetlink.cpu.toFixed(2)} ms (procfs/netlink x${(read.cpu / viaNetlink.cpu).toFixed(1)})` : '') +
          `; diff with nothing new ${diff.cpu.toFixed(3)} ms; owner scan for all ${inodes.length} ${scan.cpu.toFixed(1)} ms`,
      );
    } finally {
      holder?.kill('SIGKILL');
    }
  }
}

if (require.main === module) {
  run().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
