import type { Logger } from '../core/logger';
import type { EventPipeline } from '../pipeline/types';
import type { Upstream } from '../upstream/upstream';
import type { ConfigurationApplier } from './configuration-applier';
import type { MetricsServer } from './metrics';
import type { PropertyReporter } from './property-reporter';
import type { SourceManager } from './source-manager';

/**
 * Hands every desired-properties delivery to the applier; resolves true at the first one, false when
 * none came within `waitMs` (the sources then start with defaults).
 */
export async function applyDesiredProperties(upstream: Upstream, applier: ConfigurationApplier, waitMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const first = new Promise<boolean>((resolve) =>
    upstream.onDesired((desired) => {
      void applier.apply(desired);
      resolve(true);
    }),
  );
  await upstream.start();
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), waitMs)));
  try {
    return await Promise.race([first, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RunningParts {
  readonly manager: Pick<SourceManager, 'stopAll'>;
  readonly pipeline: Pick<EventPipeline, 'close'>;
  readonly reporter: Pick<PropertyReporter, 'flush' | 'close'>;
  readonly metrics: Pick<MetricsServer, 'close'> | undefined;
  readonly upstream: Pick<Upstream, 'close'>;
  readonly unlockStateDir: () => void;
  readonly log: Logger;
  /** The detections stage: its open windows are sent before the pipeline closes. */
  readonly detections?: { close(): void };
}

/** Stops in chain order: sources, then the pipeline (flush, persist), reported properties, metrics, upstream, state lock. */
export async function stopInOrder(p: RunningParts): Promise<void> {
  p.log.info('stopping: sources, then flushing the queues');
  await p.manager.stopAll();
  try {
    p.detections?.close();
  } catch (error) {
    p.log.warn('detections stage close failed', { error });
  }
  try {
    await p.pipeline.close(5000);
  } catch (error) {
    p.log.error('pipeline close failed', { error });
  }
  try {
    await p.reporter.flush();
  } catch {
    // best effort: the upstream may be gone
  }
  p.reporter.close();
  await p.metrics?.close().catch(() => undefined);
  try {
    await p.upstream.close();
  } catch (error) {
    p.log.warn('upstream close failed', { error });
  }
  p.unlockStateDir();
  p.log.info('stopped');
}
