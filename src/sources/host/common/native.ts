import { existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../../core/package-path';

/** What the native reader hands up for one exec; -1 means unknown (the process was gone too soon). */
export interface NativeExecRecord {
  type: 'exec';
  pid: number;
  ppid: number;
  uid: number;
  euid: number;
  /** Kernel task name from status (empty when unreadable). */
  comm: string;
  exe?: string;
  /** Raw /proc/<pid>/cmdline: NUL-separated argv. */
  cmdline?: string;
  cmdlineTruncated: boolean;
  /** The process was gone (reaped) before it was read; ppid is its parent at exit, from the exit event. */
  ppidAtExit?: boolean;
}

export interface NativeExitRecord {
  type: 'exit';
  pid: number;
  /** A wait(2) status: exit code << 8, or the killing signal in the low 7 bits. */
  exitCode: number;
  comm: string;
}

export type NativeProcRecord = NativeExecRecord | NativeExitRecord;

export interface ProcConnectorOptions {
  procRoot: string;
  receiveBufferBytes?: number;
  maxBatch?: number;
  flushMs?: number;
  maxQueuedBatches?: number;
  /** Ask for SCHED_FIFO priority 1 for the reader threads (1) or not (0). */
  realtime?: number;
  /** One reader pinned to each CPU, taking that CPU's events (1, default), or a single unpinned reader (0). */
  perCpuReaders?: number;
}

export interface ProcConnectorStats {
  received: number;
  execs: number;
  exits: number;
  /** recv() returned ENOBUFS: the kernel dropped events (how many is unknown). */
  overruns: number;
  /** Events read but dropped because JavaScript did not keep up. */
  droppedEvents: number;
  exeUnreadable: number;
  /** Of exeUnreadable: the exe was read on another CPU than the exec ran on. */
  exeUnreadableOtherCpu: number;
  /** CPU time of the native reader threads together. */
  threadCpuNs: number;
  /** 'realtime' only when every reader got SCHED_FIFO. */
  priority: 'normal' | 'realtime';
  readers: number;
  /** Readers running on their own CPU only (pinning can be refused). */
  pinnedReaders: number;
  /** Exec events by delay from the kernel event to the reader reading exe: <50, <100, <250, <500, <1000, >=1000 us. */
  execReadDelayHistogram: number[];
  /** Datagrams not sent by the kernel (netlink port id other than 0), ignored. Absent from older builds. */
  foreignMessages?: number;
}

/** A dump's records; droppedRecords were beyond maxRecords; interrupted: the tables changed during every attempt. */
export type SockDiagBuffer = Buffer & { droppedRecords?: number; interrupted?: boolean };

/** An opaque handle from open(). */
export type ProcConnectorHandle = { readonly __procConnector: unique symbol };

export interface NativeAddon {
  open(options: ProcConnectorOptions, onBatch: (records: NativeProcRecord[]) => void): ProcConnectorHandle;
  close(handle: ProcConnectorHandle): void;
  stats(handle: ProcConnectorHandle): ProcConnectorStats;
  /**
   * sock_diag netlink dump of the caller's network namespace (native/sock_diag.c): 48-byte records,
   * decoded by src/sources/host/net/sock-diag.ts. Throws with the errno text on failure. Absent
   * from an addon built before it existed.
   */
  sockDiagDump?(family: number, protocol: number, states: number, maxRecords?: number): SockDiagBuffer;
  /** madvise(MADV_PAGEOUT) per [start, length] pair, an errno per range (native/memory_trim.c; src/agent/memory-settle.ts). */
  pageOut?(ranges: number[]): number[];
  /** glibc malloc_trim(0): true when memory was returned; null where the C library is not glibc. */
  mallocTrim?(): boolean | null;
}

export type NativeLoadResult = { addon: NativeAddon; file: string } | { addon?: undefined; reason: string };

let cached: NativeLoadResult | undefined;


/**
 * Loads build/Release/edgeguard_native.node (built by `npm run build:native`). Works from src/ and
 * from dist/src/ alike. Never throws: a missing or unloadable addon comes back as a reason.
 */
export function loadNativeAddon(): NativeLoadResult {
  if (cached) return cached;
  const root = packageRoot();
  const file = root ? path.join(root, 'build', 'Release', 'edgeguard_native.node') : undefined;
  if (!file || !existsSync(file)) {
    cached = { reason: `native addon not built (${file ?? 'build/Release/edgeguard_native.node'} missing; run npm run build:native)` };
    return cached;
  }
  try {
    // require() of a .node file is untyped; the shape is declared by NativeAddon above.
    const addon = require(file) as NativeAddon;
    if (typeof addon.open !== 'function') throw new Error('open() missing');
    cached = { addon, file };
  } catch (err) {
    cached = { reason: `native addon ${file} could not be loaded: ${err instanceof Error ? err.message : String(err)}` };
  }
  return cached;
}
