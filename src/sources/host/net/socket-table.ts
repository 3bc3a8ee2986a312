import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import type { ProcWarning } from '../common/process-info';
import { decodeHexAddress } from './ip-address';
import { readRegularPrefix } from '../../../core/safe-read';

/** Kernel socket tables of one network namespace: /proc/net/{tcp,tcp6,udp,udp6}. */

export type SocketProtocol = 'TCP' | 'UDP';
export type SocketTableName = 'tcp' | 'tcp6' | 'udp' | 'udp6';

/** The `st` column (include/net/tcp_states.h); UDP reuses ESTABLISHED (connected) and CLOSE (bound only). */
export const TcpState = {
  ESTABLISHED: 0x01,
  SYN_SENT: 0x02,
  SYN_RECV: 0x03,
  CLOSE: 0x07,
  LISTEN: 0x0a,
} as const;

const STATE_NAMES: Record<number, string> = {
  1: 'ESTABLISHED', 2: 'SYN_SENT', 3: 'SYN_RECV', 4: 'FIN_WAIT1', 5: 'FIN_WAIT2', 6: 'TIME_WAIT',
  7: 'CLOSE', 8: 'CLOSE_WAIT', 9: 'LAST_ACK', 10: 'LISTEN', 11: 'CLOSING', 12: 'NEW_SYN_RECV',
};

export function tcpStateName(state: number): string {
  return STATE_NAMES[state] ?? `0x${state.toString(16)}`;
}

export interface SocketEntry {
  protocol: SocketProtocol;
  /** Family of the table (a v4-mapped peer in tcp6 still has family 6, with a dotted address). */
  family: 4 | 6;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: number;
  /** Owner of the socket (the uid column): known even when the owning process is gone. */
  uid: number;
  /** Socket inode; 0 for sockets with no file (not yet accepted, TIME_WAIT, request sockets). */
  inode: number;
}

export interface TableParseResult {
  entries: SocketEntry[];
  /** Lines that were not a socket row (garbage, truncated), skipped. */
  malformedLines: number;
}

const ADDR_PORT = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/;

function parseAddrPort(text: string | undefined, family: 4 | 6): { address: string; port: number } | undefined {
  const match = text === undefined ? null : ADDR_PORT.exec(text);
  if (!match || match[1]!.length !== (family === 4 ? 8 : 32)) return undefined;
  const address = decodeHexAddress(match[1]!);
  return address === undefined ? undefined : { address, port: parseInt(match[2]!, 16) };
}

function decimal(text: string | undefined): number | undefined {
  return text !== undefined && /^\d{1,10}$/.test(text) ? Number(text) : undefined;
}

/**
 * One table's text. Columns: sl local rem st tx:rx tr:when retrnsmt uid timeout inode …; the header
 * line and garbage lines are skipped (garbage counted). Never throws.
 */
export function parseSocketTable(text: string, table: SocketTableName): TableParseResult {
  const protocol: SocketProtocol = table.startsWith('tcp') ? 'TCP' : 'UDP';
  const family = table.endsWith('6') ? 6 : 4;
  const entries: SocketEntry[] = [];
  let malformedLines = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || (i === 0 && line.startsWith('sl'))) continue;
    const f = line.split(/\s+/);
    const local = parseAddrPort(f[1], family);
    const remote = parseAddrPort(f[2], family);
    const state = f[3] !== undefined && /^[0-9A-Fa-f]{2}$/.test(f[3]) ? parseInt(f[3], 16) : undefined;
    const uid = decimal(f[7]);
    const inode = decimal(f[9]);
    if (!/^\d+:$/.test(f[0] ?? '') || !local || !remote || state === undefined || uid === undefined || inode === undefined) {
      malformedLines++;
      continue;
    }
    entries.push({
      protocol, family,
      localAddress: local.address, localPort: local.port,
      remoteAddress: remote.address, remotePort: remote.port,
      state, uid, inode,
    });
  }
  return { entries, malformedLines };
}

/** 150 bytes a socket: room for far more than a million sockets per table; a prefix beyond is dropped. */
const MAX_SOCKET_TABLE_BYTES = 256 * 1024 * 1024;

/**
 * Reads and parses tables from a net directory (<procRoot>/net). A missing table (no IPv6 in the
 * kernel) gives no entries and no warning; garbage lines give one warning per table and read.
 */
export function readSocketTables(netDir: string, tables: readonly SocketTableName[], onWarning?: ProcWarning): SocketEntry[] {
  const out: SocketEntry[] = [];
  for (const table of tables) {
    const file = path.join(netDir, table);
    let text: string;
    try {
      text = readRegularPrefix(file, MAX_SOCKET_TABLE_BYTES).toString('latin1');
    } catch {
      continue;
    }
    const parsed = parseSocketTable(text, table);
    if (parsed.malformedLines > 0) onWarning?.('malformed lines in kernel socket table skipped', { file, lines: parsed.malformedLines });
    for (const e of parsed.entries) out.push(e);
  }
  return out;
}

/** Which of the tables exist; the sources refuse to start when none does. */
export function availableTables(netDir: string, tables: readonly SocketTableName[]): SocketTableName[] {
  return tables.filter((t) => {
    try {
      accessSync(path.join(netDir, t), constants.R_OK);
      return true;
    } catch {
      return false;
    }
  });
}
