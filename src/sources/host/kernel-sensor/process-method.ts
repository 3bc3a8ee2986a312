import { createEvent } from '../../../core/event';
import type { SourceContext } from '../../source';
import type { UserNames } from '../process-events/user-names';
import { sensorEnrichment } from './context';
import { sensorStatusCheck } from './health-status';
import { readStdioTypes } from '../process-events/exec-context';
import { processCreateFromExec, processTerminateFromExit } from './payloads';
import { RecordType } from './records';
import { subscribeKernelSensor, type SensorAddonStats } from './sensor';
import { sensorSettings } from './settings';

export const EBPF_PROCESS_METHOD = 'eBPF kernel sensor (sched_process_exec/exit tracepoints)';

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
          enrich.learn(rec);
        }
      } catch (err) {
        ctx.log.error('kernel sensor process record could not be handled', { pid: rec.pid, error: err });
      }
    }
  }, sensorStatusCheck(ctx, { method: EBPF_PROCESS_METHOD, types: [RecordType.Exec, RecordType.Exit], records: 'process', advice: 'ring buffer full or consumer too slow; raise kernelSensorRingBufferBytes' }));

  return {
    stats: () => ({ creates, terminates, sensor: sub.stats() }),
    async stop() {
      sub.close();
    },
  };
}
