import path from 'node:path';
import { LocalConfigFile, type WrappedSettings } from '../config/local-config-file';
import { CONFIG_KEY } from '../config/settings';
import type { Logger } from '../core/logger';
import type { Transport } from '../core/transport';
import { mergePatch, type JsonObject } from '../core/json-merge-patch';
import type { DesiredProperties, Upstream } from './upstream';
import { writeFileAtomic } from '../core/atomic-write';

export interface StandaloneUpstreamOptions {
  /** The local configuration file, or undefined for defaults only. */
  configFile: string | undefined;
  stateDir: string;
  /** Where messages go: the stdout transport (one JSON message per line). */
  transport: Transport;
  log: Logger;
  pollIntervalMs?: number;
}

/**
 * Upstream without IoT Edge: desired properties from a local YAML/JSON file (re-read when it changes),
 * messages to the given transport, reported properties merged into <stateDir>/reported.json.
 */
export class StandaloneUpstream implements Upstream {
  readonly mode = 'standalone' as const;
  readonly transport: Transport;
  readonly reportedFile: string;
  private readonly file: LocalConfigFile;
  private readonly listeners: Array<(desired: DesiredProperties) => void> = [];
  private readonly connectedListeners: Array<() => void> = [];
  private readonly reported: JsonObject = {};
  private readonly log: Logger;

  constructor(options: StandaloneUpstreamOptions) {
    this.transport = options.transport;
    this.log = options.log;
    this.file = new LocalConfigFile(options.configFile, { log: options.log, pollIntervalMs: options.pollIntervalMs });
    this.reportedFile = path.join(options.stateDir, 'reported.json');
  }

  onDesired(listener: (desired: DesiredProperties) => void): void {
    this.listeners.push(listener);
  }

  onConnected(listener: () => void): void {
    this.connectedListeners.push(listener);
  }

  /** stdout is always there. */
  isConnected(): boolean {
    return true;
  }

  async start(): Promise<void> {
    for (const listener of this.connectedListeners) listener();
    if (this.file.file) this.log.info('standalone configuration file', { file: this.file.file });
    else this.log.info('no configuration file (EDGEGUARD_CONFIG, --config or ./edgeguard.yaml): standalone defaults');
    this.file.reload();
    this.publish(this.file.current());
    this.file.watch((settings) => this.publish(settings));
  }

  reportProperties(patch: Record<string, unknown>): Promise<void> {
    try {
      mergePatch(this.reported, patch);
      writeFileAtomic(this.reportedFile, JSON.stringify(this.reported, null, 2) + '\n');
      this.log.debug('reported properties', { file: this.reportedFile, patch });
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  async close(): Promise<void> {
    this.file.stop();
  }

  private publish(settings: WrappedSettings): void {
    const desired: DesiredProperties = { [CONFIG_KEY]: settings };
    for (const listener of this.listeners) {
      try {
        listener(desired);
      } catch (error) {
        this.log.error('desired-properties listener failed', { error });
      }
    }
  }
}
