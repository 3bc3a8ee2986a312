import type { SourceContext, SourceStatus } from '../../source';
import { lossReport, LossTracker } from './loss';
import type { SensorHealth } from './sensor';

export interface SensorStatusOptions {
  /** The source's method, as its status names it. */
  method: string;
  /** Record types whose kernel-side losses count for this source. */
  types: readonly number[];
  /** What the source loses, in the warning ("kernel sensor lost <records> records"). */
  records: 'file' | 'process' | 'network';
  /** The advice after the loss figures in a degraded status. */
  advice: string;
  /** Also name the programs this kernel has no tracepoint for (FileOperations: init_module without modules…). */
  showSkipped?: boolean;
}

/**
 * The status of a source on the kernel sensor from the shared health check (subscribeKernelSensor's
 * onHealth): failed when the sensor is gone, degraded once records were lost (with a warning each time
 * the count grows), else running. The status is set only when it changes.
 */
export function sensorStatusCheck(ctx: SourceContext, o: SensorStatusOptions): (health: SensorHealth) => void {
  const loss = new LossTracker(o.types);
  let last = '';
  return (health) => {
    try {
      if (health.error !== undefined) throw health.error;
      const s = health.stats;
      const report = s ? lossReport(loss, s) : undefined;
      if (report?.grew) ctx.log.warn(`kernel sensor lost ${o.records} records`, { ...report.counts });
      const skipped = o.showSkipped && s?.skipped.length ? `not on this kernel: ${s.skipped.join(', ')}` : '';
      const status: SourceStatus = health.lost
        ? { state: 'failed', method: o.method, reason: health.lost }
        : report?.total
          ? { state: 'degraded', method: o.method, reason: [`${report.text} since start (${o.advice})`, skipped].filter(Boolean).join('; ') }
          : { state: 'running', method: o.method, ...(skipped ? { reason: skipped } : {}) };
      const key = `${status.state}\n${status.reason ?? ''}`;
      if (key !== last) ctx.setStatus(status);
      last = key;
    } catch (err) {
      ctx.log.error('kernel sensor status check failed', { error: err });
    }
  };
}
