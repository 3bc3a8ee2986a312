import path from 'node:path';
import { resolveProcRoot } from '../common/process-info';
import { SourceUnavailableError } from '../../source';
import { availableTables, type SocketTableName } from './socket-table';

/**
 * The socket tables read by the network sources: <procRoot>/net, i.e. /proc/self/net of the process
 * reading it. That is the host's network namespace only when EdgeGuard runs with `network: host`.
 */
export function resolveNetDir(hostRoot: string): { procRoot: string; netDir: string } {
  const procRoot = resolveProcRoot(hostRoot);
  return { procRoot, netDir: path.join(procRoot, 'net') };
}

/** The tables that exist, or SourceUnavailableError when none of them does. */
export function requireTables(netDir: string, tables: readonly SocketTableName[]): SocketTableName[] {
  const present = availableTables(netDir, tables);
  if (present.length === 0) {
    throw new SourceUnavailableError(`no kernel socket tables readable under ${netDir} (${tables.join(', ')}): mount the host's /proc and run with network: host`);
  }
  return present;
}
