import { isLoopbackAddress, isWildcardAddress } from './ip-address';
import { TcpState, type SocketEntry } from './socket-table';

export type Direction = 'In' | 'Out';

export interface NewConnection {
  entry: SocketEntry;
  direction: Direction;
}

export interface TrackerOptions {
  includeLoopback: boolean;
  /** Most connections remembered at once; beyond it new connections are counted in `overflow`, not reported. */
  maxTracked: number;
  /** Polls a connection may be missing from the table before it is forgotten (a table read is not atomic). */
  gracePolls?: number;
}

export interface DiffResult {
  fresh: NewConnection[];
  /** New connections not reported because `maxTracked` was reached. */
  overflow: number;
}

interface Seen {
  inode: number;
  lastPoll: number;
}

/** What identifies a connection apart from its socket inode. */
function tupleKey(e: SocketEntry): string {
  return `${e.protocol}|${e.localAddress}|${e.localPort}|${e.remoteAddress}|${e.remotePort}`;
}

function listenerKey(protocol: string, address: string, port: number): string {
  return `${protocol}|${address}|${port}`;
}

/**
 * Diffs successive reads of the TCP tables into new connections, each reported once.
 *
 * - Reported states: ESTABLISHED, and SYN_SENT (an outgoing attempt, reported even if it never
 *   completes). Inbound half-open SYN_RECV request sockets are not connections yet; the accepted
 *   socket is reported once ESTABLISHED.
 * - Identity: local + remote address/port, plus the socket inode so that a later connection reusing
 *   the same 4-tuple is new. An established socket not yet accept()ed has inode 0 and gets its inode
 *   when accepted: that is the same connection. Such a socket is held back one poll (to learn its
 *   owner) and reported without a process if it is still not accepted then.
 * - Direction: In when the local port is a listening port on the same or the wildcard address
 *   (in this read or the previous one), else Out.
 * - The first read only learns what is already open. Memory: the connections currently open (plus
 *   those missing for at most `gracePolls` reads), capped at `maxTracked`.
 */
export class ConnectionTracker {
  private seen = new Map<string, Seen>();
  private pendingUnaccepted = new Set<string>();
  private previousListeners = new Set<string>();
  private poll = 0;
  private primed = false;
  private readonly grace: number;

  constructor(private readonly options: TrackerOptions) {
    this.grace = options.gracePolls ?? 2;
  }

  get tracked(): number {
    return this.seen.size;
  }

  /** Sockets held back because they were not accepted yet: the next read must look at them again. */
  get waiting(): number {
    return this.pendingUnaccepted.size;
  }

  diff(entries: readonly SocketEntry[]): DiffResult {
    this.poll++;
    const listeners = new Set<string>();
    for (const e of entries) {
      if (e.protocol === 'TCP' && e.state === TcpState.LISTEN) listeners.add(listenerKey(e.protocol, e.localAddress, e.localPort));
    }
    const isListening = (e: SocketEntry): boolean => {
      const wildcard = e.family === 6 ? '::' : '0.0.0.0';
      for (const set of [listeners, this.previousListeners]) {
        if (set.has(listenerKey(e.protocol, e.localAddress, e.localPort))) return true;
        // IPv4 peers of a dual-stack listener on :: show in tcp6 (family 6) with dotted addresses.
        if (set.has(listenerKey(e.protocol, wildcard, e.localPort))) return true;
      }
      return false;
    };

    const fresh: NewConnection[] = [];
    const pending = new Set<string>();
    let overflow = 0;
    for (const e of entries) {
      if (e.state !== TcpState.ESTABLISHED && e.state !== TcpState.SYN_SENT) continue;
      if (!this.options.includeLoopback && isLoopbackAddress(e.remoteAddress) && isLoopbackAddress(e.localAddress)) continue;
      if (isWildcardAddress(e.remoteAddress) && e.remotePort === 0) continue;
      const key = tupleKey(e);
      const known = this.seen.get(key);
      const same = known !== undefined && (known.inode === e.inode || known.inode === 0 || e.inode === 0);
      if (same) {
        known.lastPoll = this.poll;
        if (known.inode === 0) known.inode = e.inode;
        continue;
      }
      if (e.inode === 0 && this.primed && !this.pendingUnaccepted.has(key)) {
        pending.add(key); // not accepted yet: look again next poll, when it has an owner
        continue;
      }
      if (known === undefined && this.seen.size >= this.options.maxTracked) {
        overflow++;
        continue;
      }
      this.seen.set(key, { inode: e.inode, lastPoll: this.poll });
      if (this.primed) fresh.push({ entry: e, direction: isListening(e) ? 'In' : 'Out' });
    }
    for (const [key, s] of this.seen) {
      if (this.poll - s.lastPoll > this.grace) this.seen.delete(key);
    }
    this.pendingUnaccepted = pending;
    this.previousListeners = listeners;
    this.primed = true;
    return { fresh, overflow };
  }
}
