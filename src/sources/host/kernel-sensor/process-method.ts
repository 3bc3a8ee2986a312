import { createEvent } from '../../../core/event';
import type { SourceContext, SourceStatus } from '../../source';
import type { UserNames } from '../process-events/user-names';
import { sensorEnrichment } from './context';
import { lossReport, LossTracker } from './loss';
import { readStdioTypes } from '../process-events/exec-context';
import { processCreateFromExec, processTerminateFromExit } from './payloads';
import { RecordType } from './records';
import { subscribeKernelSensor, type SensorAddonStats } from './sensor';
import { sensorSettings } from './settings';

export const EBPF_PROCESS_METHOD = 'eBPF kernel sensor (sched_process_exec/exit tracepoints)';
const STATUS_CHECK_MS = 10_000;

export interface EbpfProcessEvents {
  stats(): { creates: number; terminates: number; sensor?: SensorAddonStats };
  stop(): Promise<void>;
}

/**
 * ProcessEvents through the kernel sensor: every exec with its executable, argv, cwd, tty and
 * cgroup as the kernel saw it, so no process is too short-lived to be reported whole. Throws when
 * the sensor cannot load here; the caller falls back to the proc connector.
 */
export function startEbpfProcessEvents(ctx: SourceContext, procRoot: string, users: UserNames): EbpfProcessEvents {
  const enrich = sensorEnrichment(procRoot, ctx.hostRoot);
  let creates = 0;
  let terminates = 0;
  const sub = subscribeKernelSensor(sensorSettings(ctx.config), { process: true }, (records) => {
    for (const rec of records) {
      try {
        if (rec.type === 'exec') {
          // Learnt before the event is built: a child exec'd in the same batch finds its parent.
          const item = processCreateFromExec(rec, enrich, users.name(rec.uid));
          // What fd 0 / fd 1 are (the reverse-shell rule needs them): read from /proc while the process runs.
          const stdio = readStdioTypes(procRoot, rec.pid);
          if (Object.keys(stdio).length > 0) item.ExtraDetails = { ...item.ExtraDetails, ...stdio };
          enrich.learn(rec);
          creates++;
          ctx.emit(createEvent('ProcessCreate', 'Triggered', [item]));
        } else if (rec.type === 'exit') {
          const executable = enrich.processes.get(rec.pid)?.executable;
          terminates++;
          ctx.emit(createEvent('ProcessTerminate', 'Triggered', [processTerminateFromExit(rec, executable, enrich)]));
        }
      } catch (err) {
        ctx.log.error('kernel sensor process record could not be handled', { pid: rec.pid, error: err });
      }
    }
  });

  const loss = new LossTracker([RecordType.Exec, RecordType.Exit]);
  let last = '';
  const check = (): void => {
    try {
      const s = sub.stats();
      const report = s ? lossReport(loss, s) : undefined;
      if (report?.grew) ctx.log.warn('kernel sensor lost process records', { ...report.counts });
      const lost = sub.lost();
      const status: SourceStatus = lost
        ? { state: 'failed', method: EBPF_PROCESS_METHOD, reason: lost }
        : report?.total
        ? { state: 'degraded', method: EBPF_PROCESS_METHOD, reason: `${report.text} since start (ring buffer full or consumer too slow; raise kernelSensorRingBufferBytes)` }
        : { state: 'running', method: EBPF_PROCESS_METHOD };
      const key = JSON.stringify(status);
      if (key !== last) ctx.setStatus(status);
      last = key;
    } catch (err) {
      ctx.log.error('kernel sensor status check failed', { error: err });
    }
  };
  check();
  const timer = setInterval(check, STATUS_CHECK_MS);
  timer.unref();
  return {
    stats: () => ({ creates, terminates, sensor: sub.stats() }),
    async stop() {
      clearInterval(timer);
      sub.close();
    },
  };
}
