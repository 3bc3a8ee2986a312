import type { SettingDefinition } from '../../config/settings';
import { createEvent } from '../../core/event';
import type { Source, SourceContext, SourceDefinition, SourceStatus } from '../source';
import { ConnectionTracker } from './net/connection-tracker';
import { requireTables, resolveNetDir } from './net/net-dir';
import { connectionCreatePayload } from './net/socket-payloads';
import { SocketOwnerFinder } from './net/socket-owners';
import { DEFAULT_MAX_RECORDS, sockDiagReader, type SockDiagShortfall, type SocketReader } from './net/sock-diag';
import { readSocketTables, TcpState, type SocketTableName } from './net/socket-table';
import { SourceUnavailableError } from '../source';
import { readTcpOpenCounters, sameCounters, type TcpOpenCounters } from './net/tcp-open-counters';
import { rateLimitedWarning } from '../../core/rate-limited-log';
import { CONNECTION_CREATE } from './net/connection-create';
import { PORT_LISTEN, startEbpfConnections, type EbpfConnections } from './kernel-sensor/connections-method';

export const NETLINK_TABLES_METHOD = 'sock_diag netlink';
export const PROCFS_TABLES_METHOD = '/proc/net/tcp, tcp6';
const GATE = 'read when the TCP open counters (/proc/net/snmp) move';
/** Tables are read at least this often even when the counters say nothing opened (forgets closed connections). */
const FULL_READ_MS = 60_000;
const TABLES: readonly SocketTableName[] = ['tcp', 'tcp6'];
/** What the tracker looks at (the netlink reader lets the kernel filter; the text tables hold everything). */
const WANTED_STATES = [TcpState.ESTABLISHED, TcpState.SYN_SENT, TcpState.LISTEN];

const SETTINGS: readonly SettingDefinition[] = [
  {
    name: 'connectionsMethod',
    type: 'enum',
    default: 'auto',
    values: ['auto', 'ebpf', 'netlink', 'procfs'],
    description:
      'How connections are seen: auto (the eBPF kernel sensor: every connect and accept as it happens, plus PortListen events; else polling the TCP tables through sock_diag netlink, else the /proc/net text tables; the status names the reason for each fallback), ebpf (kernel sensor only; the source fails without it), netlink (sock_diag polling only; the source fails without it), procfs (/proc/net/tcp, tcp6 text: ~20x the CPU per read, but readable in a prepared host root).',
  },
  {
    name: 'connectionsPollInterval',
    type: 'duration',
    default: 'PT1S',
    description:
      'Interval between two reads of the kernel TCP tables. Connections that open and close between two reads are not seen; an idle read costs well under a millisecond.',
  },
  {
    name: 'connectionsIncludeLoopback',
    type: 'boolean',
    default: false,
    description: 'Also report connections between loopback addresses (127.0.0.0/8, ::1): local traffic, usually noise on an edge device.',
  },
  {
    name: 'connectionsMaxTracked',
    type: 'integer',
    default: 16_384,
    minimum: 256,
    maximum: 1_048_576,
    description: 'Most open connections remembered (to report each once); new connections beyond it are not reported and the status says so.',
  },
];

export interface ConnectionsStats {
  polls: number;
  /** Polls that read the tables (the others saw unchanged TCP open counters and stopped there). */
  tableReads: number;
  reported: number;
  /** Polls that had new connections and so looked for their processes. */
  ownerScans: number;
  overflow: number;
  tracked: number;
  /** CPU (user + system, µs) spent in polls, owner scans included. */
  pollCpuMicros: number;
}

export interface ConnectionsSource extends Source {
  stats(): ConnectionsStats;
  /** Runs one poll now (benchmarks and tests; the timer keeps running). */
  pollNow(): void;
}

/** The kernel sensor method behind the ConnectionsSource interface (pollNow has nothing to poll). */
function ebpfConnectionsSource(ebpf: EbpfConnections): ConnectionsSource {
  return {
    stats: () => {
      const s = ebpf.stats();
      return { polls: 0, tableReads: 0, reported: s.connections, ownerScans: 0, overflow: 0, tracked: 0, pollCpuMicros: 0 };
    },
    pollNow: () => undefined,
    stop: () => ebpf.stop(),
  };
}

export const connectionsSource: SourceDefinition = {
  name: 'Connections',
  description: 'new inbound and outbound TCP connections (ConnectionCreate), IPv4 and IPv6, with the owning process, from the eBPF kernel sensor (with listen/bind as PortListen) or by polling the kernel socket tables',
  events: [CONNECTION_CREATE, PORT_LISTEN],
  settings: SETTINGS,
  async start(ctx: SourceContext): Promise<ConnectionsSource> {
    const warn = rateLimitedWarning(ctx.log);
    const { procRoot, netDir } = resolveNetDir(ctx.hostRoot);
    const tables = requireTables(netDir, TABLES);
    const wanted = ctx.config.string('connectionsMethod');
    let ebpfReason: string | undefined;
    if (wanted === 'auto' || wanted === 'ebpf') {
      try {
        return ebpfConnectionsSource(startEbpfConnections(ctx, procRoot));
      } catch (err) {
        ebpfReason = `eBPF kernel sensor unavailable (${err instanceof Error ? err.message : String(err)})`;
        if (wanted === 'ebpf') throw new SourceUnavailableError(`${ebpfReason}; connectionsMethod is ebpf, so no fallback`);
        ctx.log.warn('kernel sensor unavailable, falling back to polling the TCP tables', { reason: ebpfReason });
      }
    }
    let readSockets: SocketReader = (t) => readSocketTables(netDir, t, warn);
    let method = `${PROCFS_TABLES_METHOD} under ${netDir}, ${GATE}`;
    let shortfall: SockDiagShortfall | undefined;
    if (wanted !== 'procfs' && wanted !== 'ebpf') {
      const netlink = sockDiagReader({
        maxRecords: Math.max(DEFAULT_MAX_RECORDS, ctx.config.integer('connectionsMaxTracked')),
        onShortfall: (s) => {
          shortfall = s;
          warn('sock_diag dump incomplete', { ...s });
        },
      });
      if ('reader' in netlink) {
        readSockets = netlink.reader;
        method = `${NETLINK_TABLES_METHOD}, ${GATE}`;
      } else if (wanted === 'netlink') {
        throw new SourceUnavailableError(`${netlink.reason}; connectionsMethod is netlink, so no fallback`);
      } else {
        method = `${method} (${netlink.reason})`;
      }
    }
    const tracker = new ConnectionTracker({
      includeLoopback: ctx.config.boolean('connectionsIncludeLoopback'),
      maxTracked: ctx.config.integer('connectionsMaxTracked'),
    });
    const owners = new SocketOwnerFinder(procRoot, warn);
    const stats: ConnectionsStats = { polls: 0, tableReads: 0, reported: 0, ownerScans: 0, overflow: 0, tracked: 0, pollCpuMicros: 0 };
    const baseStatus: SourceStatus = {
      state: 'running',
      method,
      ...(tables.length < TABLES.length ? { state: 'degraded' as const, reason: `only ${tables.join(', ')} readable (no IPv6 in the kernel?)` } : {}),
    };
    if (ebpfReason) baseStatus.reason = [ebpfReason, baseStatus.reason].filter(Boolean).join('; ');
    let lastStatus = '';
    // Sticky: whether a scan reaches an unreadable process depends on where the owners are found.
    let deniedSeen = 0;
    const setStatus = (problem?: string): void => {
      const status: SourceStatus = problem
        ? { state: 'degraded', method: baseStatus.method, reason: [baseStatus.reason, problem].filter(Boolean).join('; ') }
        : baseStatus;
      const key = JSON.stringify(status);
      if (key !== lastStatus) ctx.setStatus(status);
      lastStatus = key;
    };

    let lastCounters: TcpOpenCounters | undefined;
    let changedLastPoll = true;
    let lastFullRead = 0;
    const poll = (): void => {
      const before = process.cpuUsage();
      try {
        // Counters first: a connection opened after this read moves them again for the next poll.
        const counters = readTcpOpenCounters(netDir);
        const changed = !sameCounters(counters, lastCounters);
        lastCounters = counters;
        // The poll after a change reads again: an accepted socket is counted just before it is hashed.
        const mustRead = changed || changedLastPoll || tracker.waiting > 0 || Date.now() - lastFullRead >= FULL_READ_MS;
        changedLastPoll = changed;
        if (!mustRead) return;
        lastFullRead = Date.now();
        stats.tableReads++;
        const { fresh, overflow } = tracker.diff(readSockets(tables, WANTED_STATES));
        stats.overflow += overflow;
        if (overflow > 0) warn('connections not reported: connectionsMaxTracked reached', { limit: ctx.config.integer('connectionsMaxTracked'), skipped: overflow });
        if (fresh.length > 0) {
          // Only now, with new connections to attribute, are the processes' file descriptors read.
          stats.ownerScans++;
          const found = owners.find(fresh.map((c) => c.entry.inode));
          for (const { entry, direction } of fresh) {
            ctx.emit(createEvent('ConnectionCreate', 'Triggered', [connectionCreatePayload(entry, direction, found.get(entry.inode))]));
            stats.reported++;
          }
          deniedSeen = Math.max(deniedSeen, owners.lastScan.deniedProcesses);
        }
        const problems = [
          deniedSeen > 0 ? `file descriptors of ${deniedSeen} process(es) not readable, their connections come without process (needs root with CAP_SYS_PTRACE, and pid: host in a container)` : '',
          shortfall
            ? `last incomplete socket dump (${shortfall.table}): ${shortfall.droppedRecords} record(s) over the cap${shortfall.interrupted ? ', tables changed during every attempt' : ''}`
            : '',
          overflow > 0 ? `connectionsMaxTracked (${ctx.config.integer('connectionsMaxTracked')}) reached, new connections skipped` : '',
        ].filter(Boolean);
        setStatus(problems.join('; ') || undefined);
      } catch (err) {
        // Rate-limited: a failure that repeats would otherwise log every poll.
        warn('connection poll failed', { method, error: err });
        setStatus(`poll failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        const used = process.cpuUsage(before);
        stats.pollCpuMicros += used.user + used.system;
        stats.polls++;
        stats.tracked = tracker.tracked;
      }
    };

    poll(); // learns the connections already open; they are not reported
    setStatus();
    const timer = setInterval(poll, ctx.config.durationMs('connectionsPollInterval'));
    return {
      stats: () => ({ ...stats }),
      pollNow: poll,
      async stop() {
        clearInterval(timer);
      },
    };
  },
};
