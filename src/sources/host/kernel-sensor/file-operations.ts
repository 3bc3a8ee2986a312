import type { SettingDefinition } from '../../../config/settings';
import { createEvent } from '../../../core/event';
import { defineEventType } from '../../../core/event-types';
import { SourceUnavailableError, type Source, type SourceContext, type SourceDefinition } from '../../source';
import { resolveProcRoot } from '../common/process-info';
import { sensorEnrichment } from './context';
import { sensorStatusCheck } from './health-status';
import { fileOperationPayload } from './payloads';
import { RecordType } from './records';
import { subscribeKernelSensor, type SensorAddonStats } from './sensor';
import { DEFAULT_READ_WATCH, DEFAULT_WATCH_NAMES, DEFAULT_WRITE_WATCH, KERNEL_SENSOR_SETTINGS, kernelFilter, sensorSettings, watchedInodes } from './settings';

export const FILE_OPERATION_EVENT = 'FileOperation';
export const FILE_OPERATION = defineEventType({ name: FILE_OPERATION_EVENT, category: 'Triggered', defaultPriority: 'High', schema: 'own' });
export const FILE_OPERATIONS_METHOD = 'eBPF kernel sensor (openat/unlink/rename/truncate/finit_module tracepoints, filtered in the kernel)';

const SETTINGS: readonly SettingDefinition[] = [
  {
    name: 'fileOperationsWatchPaths',
    type: 'stringList',
    default: DEFAULT_WRITE_WATCH,
    description:
      'Absolute path prefixes whose open-for-write, unlink, rename and truncate are reported as FileOperation (a prefix ending in "/" covers everything under a directory; "/etc/passwd" also covers "/etc/passwd-"). At most 128 bytes each; matched in the kernel.',
  },
  {
    name: 'fileOperationsWatchNames',
    type: 'stringList',
    default: DEFAULT_WATCH_NAMES,
    description: 'File names whose open-for-write is reported wherever they are (shell histories in every home directory). At most 30 bytes each.',
  },
  {
    name: 'fileOperationsReadWatchPaths',
    type: 'stringList',
    default: DEFAULT_READ_WATCH,
    description: 'Absolute paths of files whose open-for-read is reported (credential stores). Files, not directories.',
  },
  ...KERNEL_SENSOR_SETTINGS,
];

export interface FileOperationsSource extends Source {
  stats(): { reported: number; sensor?: SensorAddonStats };
}

/**
 * FileOperations: changes to (and reads of) sensitive files, as the eBPF kernel sensor sees them.
 * There is no fallback: without the sensor the source is unavailable and its status says why.
 */
export const fileOperationsSource: SourceDefinition = {
  name: 'FileOperations',
  description: 'operations on sensitive files (FileOperation: writes, deletes, renames, truncation under watched paths, reads of credential files, kernel module loads) from the eBPF kernel sensor',
  events: [FILE_OPERATION],
  settings: SETTINGS,
  async start(ctx: SourceContext): Promise<FileOperationsSource> {
    let filter;
    try {
      filter = kernelFilter(
        ctx.config.stringList('fileOperationsWatchPaths'),
        ctx.config.stringList('fileOperationsReadWatchPaths'),
        ctx.config.stringList('fileOperationsWatchNames'),
      );
    } catch (err) {
      throw new SourceUnavailableError(`file watch settings refused: ${err instanceof Error ? err.message : String(err)}`);
    }
    const enrich = sensorEnrichment(resolveProcRoot(ctx.hostRoot), ctx.hostRoot);
    let reported = 0;
    let sub;
    try {
      const files = { ...filter, inodes: watchedInodes(ctx.hostRoot, filter.prefixes) };
      sub = subscribeKernelSensor(sensorSettings(ctx.config), { files, process: true }, (records) => {
        for (const rec of records) {
          enrich.learn(rec);
          if (rec.type !== 'file') continue;
          try {
            reported++;
            ctx.emit(createEvent(FILE_OPERATION_EVENT, 'Triggered', [fileOperationPayload(rec, enrich)]));
          } catch (err) {
            ctx.log.error('kernel sensor file record could not be handled', { pid: rec.pid, error: err });
          }
        }
      }, sensorStatusCheck(ctx, { method: FILE_OPERATIONS_METHOD, types: [RecordType.File], records: 'file', advice: 'raise kernelSensorRingBufferBytes', showSkipped: true }));
    } catch (err) {
      throw new SourceUnavailableError(`eBPF kernel sensor unavailable (${err instanceof Error ? err.message : String(err)}); FileOperations has no other method`);
    }
    const subscription = sub;
    return {
      stats: () => ({ reported, sensor: subscription.stats() }),
      async stop() {
        subscription.close();
      },
    };
  },
};
