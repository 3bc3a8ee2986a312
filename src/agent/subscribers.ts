import { configurationErrorEvent, type ConfigUpdate } from '../config/config-store';
import { CONFIG_KEY } from '../config/settings';
import { levelFromEnvironment, setLogLevel, type LogLevel } from '../core/logger';
import type { EventPipeline } from '../pipeline/types';
import type { DesiredProperties } from '../upstream/upstream';
import type { ConfigurationApplier } from './configuration-applier';
import type { SourceManager } from './source-manager';

/** The twin's logLevel when it sets one, else the environment's (EDGEGUARD_LOG_LEVEL, RuntimeLogLevel). */
export function effectiveLogLevel(desired: DesiredProperties, update: ConfigUpdate, env: NodeJS.ProcessEnv): LogLevel | undefined {
  const section = desired[CONFIG_KEY] as Record<string, unknown> | undefined;
  const given = section && typeof section === 'object' ? section.logLevel : undefined;
  if (given === undefined || given === null) return levelFromEnvironment(env);
  if (update.problems.some((p) => p.setting === 'logLevel')) return undefined;
  return update.view.string('logLevel') as LogLevel;
}

export interface ConfiguredComponents {
  readonly pipeline: EventPipeline;
  readonly manager: Pick<SourceManager, 'apply'>;
  readonly env: NodeJS.ProcessEnv;
  /** False until the sources were first started, and again once the agent stops. */
  readonly sourcesLive: () => boolean;
  /** Reported properties to refresh after each configuration. */
  readonly reportSoon?: () => void;
  /** The detections stage (src/detections), configured before the pipeline. */
  readonly detections?: { configure(view: ConfigUpdate['view']): void };
}

/** The agent's subscribers, in order: configuration errors, log level, pipeline, sources, reporter. */
export function subscribeComponents(applier: ConfigurationApplier, c: ConfiguredComponents): ConfigurationApplier {
  return applier
    .subscribe('configuration errors', (update) => {
      if (update.newProblems.length > 0) c.pipeline.ingest(configurationErrorEvent(update.newProblems));
    })
    .subscribe('log level', (update, desired) => {
      const level = effectiveLogLevel(desired, update, c.env);
      if (level) setLogLevel(level);
    })
    .subscribe('detections', (update) => {
      if (update.changedSettings.length > 0) c.detections?.configure(update.view);
    })
    .subscribe('pipeline', (update) => {
      if (update.changedSettings.length > 0) c.pipeline.applyConfig(update.view);
    })
    .subscribe('sources', (update) => {
      if (update.changedSettings.length > 0 && c.sourcesLive()) return c.manager.apply(update.view);
    })
    .subscribe('reporter', () => c.reportSoon?.());
}
