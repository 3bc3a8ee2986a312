import { createEvent, type PayloadItem } from '../../core/event';
import type { SettingDefinition } from '../../config/settings';
import { SourceUnavailableError, type Source, type SourceContext, type SourceDefinition, type SourceStatus } from '../source';
import { startEbpfProcessEvents } from './kernel-sensor/process-method';
import type { SensorAddonStats } from './kernel-sensor/sensor';
import { BoundedMap } from '../../core/bounded-map';
import { loadNativeAddon, type NativeAddon, type NativeProcRecord, type ProcConnectorHandle, type ProcConnectorStats } from './common/native';
import { listPids, parseCmdline, readExecutable, resolveProcRoot, type ProcWarning } from './common/process-info';
import { readExecContext } from './process-events/exec-context';
import { decodeWaitStatus, processCreatePayload, processTerminatePayload } from './process-events/process-payloads';
import { ProcessPoller } from './process-events/process-poller';
import { rateLimitedWarning } from '../../core/rate-limited-log';
import { UserNames } from './process-events/user-names';
import { PROCESS_CREATE, PROCESS_TERMINATE } from './process-events/event-types';

export const NETLINK_METHOD = 'netlink proc connector';
export const POLLING_METHOD = '/proc polling';

/** pid -> executable, for the Executable of ProcessTerminate (the exe link is gone at exit). */
const EXE_CACHE_LIMIT = 32_768;
const LOSS_CHECK_MS = 10_000;

const SETTINGS: readonly SettingDefinition[] = [
  {
    name: 'processEventsMethod',
    type: 'enum',
    default: 'auto',
    values: ['auto', 'ebpf', 'netlink', 'polling'],
    description:
      'How process starts and exits are seen: auto (the eBPF kernel sensor, else the kernel proc connector, else /proc polling with a degraded status; the status names the reason for each fallback), ebpf (kernel sensor only; the source fails without it), netlink (proc connector only; the source fails without it), polling (/proc polling only).',
  },
  {
    name: 'processPollInterval',
    type: 'duration',
    default: 'PT1S',
    description: 'Interval of the /proc polling fallback. Processes that start and end between two scans are not seen.',
  },
  {
    name: 'processEventsRealtimeReader',
    type: 'boolean',
    default: true,
    description:
      'Run the proc connector reader threads at SCHED_FIFO priority 1 so they read /proc of a new process before a very short-lived one is gone (needs CAP_SYS_NICE).',
  },
  {
    name: 'processEventsPerCpuReaders',
    type: 'boolean',
    default: true,
    description:
      'One proc connector reader thread pinned to each CPU, taking the events raised on that CPU, so a new process is read on the CPU where it runs; only with the real-time reader (false, or at normal priority: a single unpinned reader thread).',
  },
];

export interface ProcessEventsStats {
  method: 'ebpf' | 'netlink' | 'polling';
  sensor?: SensorAddonStats;
  creates: number;
  terminates: number;
  native?: ProcConnectorStats;
  pollScans: number;
  /** CPU time (user + system, microseconds) spent in /proc scans, measured around each scan. */
  pollCpuMicros: number;
}

/** The started source; stats() is for benchmarks and diagnostics. */
export interface ProcessEventsSource extends Source {
  readonly method: 'ebpf' | 'netlink' | 'polling';
  stats(): ProcessEventsStats;
}

/** Turns observations into events; shared by the netlink and polling paths. */
class ProcessEmitter {
  creates = 0;
  terminates = 0;

  constructor(private readonly ctx: SourceContext) {}

  create(item: PayloadItem): void {
    this.creates++;
    this.ctx.emit(createEvent('ProcessCreate', 'Triggered', [item]));
  }

  terminate(item: PayloadItem): void {
    this.terminates++;
    this.ctx.emit(createEvent('ProcessTerminate', 'Triggered', [item]));
  }
}

function startNetlink(
  ctx: SourceContext,
  addon: NativeAddon,
  procRoot: string,
  users: UserNames,
  warn: ProcWarning,
  ebpfReason?: string,
): ProcessEventsSource {
  const emitter = new ProcessEmitter(ctx);
  const running = (): SourceStatus => (ebpfReason ? { state: 'running', method: NETLINK_METHOD, reason: ebpfReason } : { state: 'running', method: NETLINK_METHOD });
  const exeCache = new BoundedMap<number, string>(EXE_CACHE_LIMIT);
  // Processes already running exit later; learn their executables now while the links are readable.
  for (const pid of listPids(procRoot).slice(0, EXE_CACHE_LIMIT)) {
    const exe = readExecutable(procRoot, pid);
    if (exe !== undefined) exeCache.set(pid, exe);
  }
  let stopped = false;

  const onRecord = (rec: NativeProcRecord): void => {
    if (rec.type === 'exec') {
      if (rec.exe !== undefined) exeCache.set(rec.pid, rec.exe);
      emitter.create(
        processCreatePayload({
          pid: rec.pid,
          ppid: rec.ppid,
          executable: rec.exe,
          argv: parseCmdline(rec.cmdline ?? ''),
          uid: rec.uid,
          euid: rec.euid,
          userName: rec.uid >= 0 ? users.name(rec.uid) : undefined,
          comm: rec.comm || undefined,
          commandLineTruncated: rec.cmdlineTruncated,
          ppidAtExit: rec.ppidAtExit,
          context: readExecContext(procRoot, rec.pid, rec.ppid >= 0 ? rec.ppid : undefined, (pid) => exeCache.get(pid)),
        }),
      );
    } else {
      const executable = exeCache.get(rec.pid);
      exeCache.delete(rec.pid);
      emitter.terminate(processTerminatePayload({ pid: rec.pid, executable, comm: rec.comm || undefined, exit: decodeWaitStatus(rec.exitCode) }));
    }
  };

  const handle: ProcConnectorHandle = addon.open(
    { procRoot, realtime: ctx.config.boolean('processEventsRealtimeReader') ? 1 : 0, perCpuReaders: ctx.config.boolean('processEventsPerCpuReaders') ? 1 : 0 },
    (records) => {
      if (stopped) return;
      for (const rec of records) {
        try {
          onRecord(rec);
        } catch (err) {
          ctx.log.error('process event could not be handled', { pid: rec.pid, error: err });
        }
      }
    },
  );

  // Status: running, or degraded while events are being lost or the reader runs at normal priority.
  let lastLost = 0;
  let lastState = '';
  const checkStatus = (): void => {
    try {
      const s = addon.stats(handle);
      const lost = s.overruns + s.droppedEvents;
      const reasons: string[] = [];
      if (lost > lastLost) {
        reasons.push(`events lost: ${s.overruns} socket overruns, ${s.droppedEvents} dropped (consumer too slow) since start`);
        warn('process events lost', { overruns: s.overruns, droppedEvents: s.droppedEvents });
      }
      lastLost = lost;
      if (ctx.config.boolean('processEventsRealtimeReader') && s.priority !== 'realtime') {
        reasons.push('reader thread at normal priority (SCHED_FIFO refused: CAP_SYS_NICE or RT runtime missing); very short-lived processes may be reported without executable');
      }
      if (ebpfReason && reasons.length > 0) reasons.unshift(ebpfReason);
      const status = reasons.length > 0
        ? { state: 'degraded' as const, method: NETLINK_METHOD, reason: reasons.join('; ') }
        : running();
      const key = JSON.stringify(status);
      if (key !== lastState) ctx.setStatus(status);
      lastState = key;
    } catch (err) {
      ctx.log.error('process events status check failed', { error: err });
    }
  };
  ctx.setStatus(running());
  lastState = JSON.stringify(running());
  // The reader thread sets its priority as it starts; look shortly after, then periodically.
  const firstCheck = setTimeout(checkStatus, 200);
  const timer = setInterval(checkStatus, LOSS_CHECK_MS);
  firstCheck.unref();
  timer.unref();

  return {
    method: 'netlink',
    stats: () => ({ method: 'netlink', creates: emitter.creates, terminates: emitter.terminates, native: addon.stats(handle), pollScans: 0, pollCpuMicros: 0 }),
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(firstCheck);
      clearInterval(timer);
      addon.close(handle);
    },
  };
}

function startPolling(ctx: SourceContext, procRoot: string, users: UserNames, warn: ProcWarning, fallbackReason?: string): ProcessEventsSource {
  const emitter = new ProcessEmitter(ctx);
  const poller = new ProcessPoller(procRoot, warn);
  let scans = 0;
  let cpuMicros = 0;
  const scan = (): void => {
    const before = process.cpuUsage();
    try {
      const { created, terminated } = poller.scan();
      for (const info of created) {
        emitter.create(
          processCreatePayload({
            pid: info.pid,
            ppid: info.ppid,
            executable: info.executable,
            argv: info.argv,
            uid: info.uid,
            euid: info.euid,
            userName: users.name(info.uid),
            comm: info.comm,
            context: readExecContext(procRoot, info.pid, info.ppid),
          }),
        );
      }
      for (const gone of terminated) emitter.terminate(processTerminatePayload({ pid: gone.pid, executable: gone.executable, comm: gone.comm }));
    } catch (err) {
      ctx.log.error('/proc scan failed', { procRoot, error: err });
    } finally {
      const used = process.cpuUsage(before);
      cpuMicros += used.user + used.system;
      scans++;
    }
  };
  scan(); // the first scan learns what is running and emits nothing
  const timer = setInterval(scan, ctx.config.durationMs('processPollInterval'));
  const limits = 'processes shorter than processPollInterval are missed and exit status is unknown';
  if (fallbackReason !== undefined) {
    ctx.setStatus({ state: 'degraded', method: POLLING_METHOD, reason: `${fallbackReason}; ${limits}` });
  } else {
    ctx.setStatus({ state: 'running', method: POLLING_METHOD, reason: `processEventsMethod is polling; ${limits}` });
  }
  return {
    method: 'polling',
    stats: () => ({ method: 'polling', creates: emitter.creates, terminates: emitter.terminates, pollScans: scans, pollCpuMicros: cpuMicros }),
    async stop() {
      clearInterval(timer);
    },
  };
}

/** Why the kernel source cannot be used, in words an operator can act on. */
function netlinkFailureReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `netlink proc connector unavailable (${message}): it needs root/CAP_NET_ADMIN in the initial user, PID and network namespaces (in a container: pid: host and network: host)`;
}

export const processEventsSource: SourceDefinition = {
  name: 'ProcessEvents',
  description: 'process starts (ProcessCreate) and exits (ProcessTerminate) on the host, from the eBPF kernel sensor, else the kernel proc connector, else /proc polling',
  events: [PROCESS_CREATE, PROCESS_TERMINATE],
  settings: SETTINGS,
  async start(ctx: SourceContext): Promise<ProcessEventsSource> {
    const method = ctx.config.string('processEventsMethod');
    const procRoot = resolveProcRoot(ctx.hostRoot);
    const warn = rateLimitedWarning(ctx.log);
    const users = new UserNames(ctx.hostRoot, warn);
    if (listPids(procRoot).length === 0) throw new SourceUnavailableError(`no processes visible under ${procRoot}: mount the host's /proc or run with pid: host`);

    let ebpfReason: string | undefined;
    if (method === 'auto' || method === 'ebpf') {
      try {
        const ebpf = startEbpfProcessEvents(ctx, procRoot, users);
        return {
          method: 'ebpf',
          stats: () => {
            const s = ebpf.stats();
            return { method: 'ebpf', creates: s.creates, terminates: s.terminates, ...(s.sensor ? { sensor: s.sensor } : {}), pollScans: 0, pollCpuMicros: 0 };
          },
          stop: () => ebpf.stop(),
        };
      } catch (err) {
        ebpfReason = `eBPF kernel sensor unavailable (${err instanceof Error ? err.message : String(err)})`;
        if (method === 'ebpf') throw new SourceUnavailableError(`${ebpfReason}; processEventsMethod is ebpf, so no fallback`);
        ctx.log.warn('kernel sensor unavailable, falling back to the proc connector for process events', { reason: ebpfReason });
      }
    }
    let reason: string | undefined;
    if (method !== 'polling') {
      const loaded = loadNativeAddon();
      if (loaded.addon) {
        try {
          return startNetlink(ctx, loaded.addon, procRoot, users, warn, ebpfReason);
        } catch (err) {
          reason = [ebpfReason, netlinkFailureReason(err)].filter(Boolean).join('; ');
        }
      } else {
        reason = [ebpfReason, loaded.reason].filter(Boolean).join('; ');
      }
      if (method === 'netlink') throw new SourceUnavailableError(`${reason}; processEventsMethod is netlink, so no fallback`);
      ctx.log.warn('falling back to /proc polling for process events', { reason });
    }
    return startPolling(ctx, procRoot, users, warn, reason);
  },
};
