import { compareCodeUnits } from '../../core/compare-text';
import { createEvent, type PayloadItem } from '../../core/event';
import type { Source, SourceContext, SourceDefinition } from '../source';
import { requireTables, resolveNetDir } from './net/net-dir';
import { listeningPortPayload } from './net/socket-payloads';
import { SocketOwnerFinder } from './net/socket-owners';
import { readSocketTables, TcpState, type SocketEntry, type SocketTableName } from './net/socket-table';
import { rateLimitedWarning } from '../../core/rate-limited-log';
import { defineEventType } from '../../core/event-types';

export const LISTENING_PORTS = defineEventType({ name: 'ListeningPorts', category: 'Periodic', defaultPriority: 'High', schema: 'official' });

export const LISTENING_PORTS_METHOD = 'kernel socket tables (/proc/net/tcp, tcp6, udp, udp6)';
const TABLES: readonly SocketTableName[] = ['tcp', 'tcp6', 'udp', 'udp6'];

/**
 * Listening sockets: TCP in LISTEN, and UDP sockets bound to a port but not connected (state CLOSE,
 * what `ss -ul` lists). Sockets sharing protocol, address and port (SO_REUSEPORT) are one listener.
 */
export function listeners(entries: readonly SocketEntry[]): SocketEntry[] {
  const out = new Map<string, SocketEntry>();
  for (const e of entries) {
    const listening = e.protocol === 'TCP' ? e.state === TcpState.LISTEN : e.state === TcpState.CLOSE && e.localPort !== 0;
    if (!listening) continue;
    const key = `${e.protocol}|${e.family}|${e.localAddress}|${e.localPort}`;
    const known = out.get(key);
    if (!known || (known.inode === 0 && e.inode !== 0)) out.set(key, e);
  }
  return [...out.values()].sort((a, b) => compareCodeUnits(a.protocol, b.protocol) || a.localPort - b.localPort || a.family - b.family || compareCodeUnits(a.localAddress, b.localAddress));
}

export const listeningPortsSource: SourceDefinition = {
  name: 'ListeningPorts',
  description: 'snapshot of every TCP listener and bound UDP socket (IPv4 and IPv6) with the owning process (ListeningPorts)',
  events: [LISTENING_PORTS],
  settings: [],
  async start(ctx: SourceContext): Promise<Source> {
    const { procRoot, netDir } = resolveNetDir(ctx.hostRoot);
    const tables = requireTables(netDir, TABLES);
    const warn = rateLimitedWarning(ctx.log);
    const missing = TABLES.filter((t) => !tables.includes(t));
    ctx.setStatus(
      missing.length > 0
        ? { state: 'degraded', method: `${LISTENING_PORTS_METHOD}: ${netDir}`, reason: `${missing.join(', ')} not readable (no IPv6 in the kernel?)` }
        : { state: 'running', method: `${LISTENING_PORTS_METHOD}: ${netDir}` },
    );
    return {
      async snapshot() {
        const found = listeners(readSocketTables(netDir, tables, warn));
        // A fresh finder each time: pid order, so a pre-forking server's socket goes to its parent.
        const finder = new SocketOwnerFinder(procRoot, warn);
        const owners = finder.find(found.map((e) => e.inode));
        const payload: PayloadItem[] = found.map((e) => listeningPortPayload(e, owners.get(e.inode)));
        ctx.emit(createEvent('ListeningPorts', 'Periodic', payload));
      },
      async stop() {},
    };
  },
};
