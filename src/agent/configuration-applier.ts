import type { ConfigStore, ConfigUpdate } from '../config/config-store';
import type { SettingValue } from '../config/settings';
import type { Logger } from '../core/logger';
import type { DesiredProperties } from '../upstream/upstream';

/** A component that reacts to the configuration; may return a promise (a source restart). */
export type ConfigSubscriber = (update: ConfigUpdate, desired: DesiredProperties) => void | Promise<void>;

export interface ConfigurationApplierOptions {
  readonly log: Logger;
  /** Sees every setting a subscriber reads from the view it is given (the live-settings test uses it). */
  readonly onSettingRead?: (reader: string, name: string, value: SettingValue) => void;
}

/**
 * Desired properties in, effective configuration out to named subscribers (configuration errors, log
 * level, pipeline, sources, reporter), in the order they subscribed. A failing subscriber is logged by
 * name; the others still get the configuration.
 */
export class ConfigurationApplier {
  private readonly subscribers: Array<{ readonly name: string; readonly apply: ConfigSubscriber }> = [];

  constructor(
    private readonly store: ConfigStore,
    private readonly options: ConfigurationApplierOptions,
  ) {}

  subscribe(name: string, apply: ConfigSubscriber): this {
    this.subscribers.push({ name, apply });
    return this;
  }

  /** Applies the FULL desired properties; resolves when every subscriber has (a source restart included). */
  apply(desired: DesiredProperties): Promise<void> {
    const { log, onSettingRead } = this.options;
    let update: ConfigUpdate;
    try {
      update = this.store.applyDesired(desired);
    } catch (error) {
      log.error('configuration could not be applied', { error: error instanceof Error ? error.message : String(error) });
      return Promise.resolve();
    }
    if (update.changedSettings.length > 0) {
      log.info('configuration applied', { changed: update.changedSettings.length, settings: update.changedSettings.slice(0, 10).join(',') });
    }
    const pending: Array<Promise<void>> = [];
    for (const { name, apply } of this.subscribers) {
      const view = onSettingRead ? update.view.recording((setting, value) => onSettingRead(name, setting, value)) : update.view;
      try {
        const result = apply({ ...update, view }, desired);
        if (result) pending.push(result.catch((error: unknown) => log.error('configuration not applied', { subscriber: name, error: error instanceof Error ? error.message : String(error) })));
      } catch (error) {
        log.error('configuration not applied', { subscriber: name, error: error instanceof Error ? error.message : String(error) });
      }
    }
    return Promise.all(pending).then(() => undefined);
  }
}
