import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultConfigView } from '../../src/config/defaults';
import { type SettingValue } from '../../src/config/settings';
import type { SecurityEvent } from '../../src/core/event';
import { getLogger } from '../../src/core/logger';
import type { EmitOptions, Source, SourceContext, SourceDefinition, SourceStatus } from '../../src/sources/source';
import { settingsCatalogue } from '../../src/agent/catalogue';

export interface RecordedEvent {
  event: SecurityEvent;
  options: EmitOptions;
}

/**
 * Runs one source outside the pipeline: defaults plus overrides as configuration, a temp state
 * directory, and every emitted event and status recorded for assertions.
 */
export class SourceHarness {
  readonly events: RecordedEvent[] = [];
  readonly statuses: SourceStatus[] = [];
  readonly stateDir: string;
  private source?: Source;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly definition: SourceDefinition,
    private readonly overrides: Record<string, SettingValue> = {},
    private readonly hostRoot = '/',
  ) {
    this.stateDir = mkdtempSync(path.join(os.tmpdir(), `edgeguard-${definition.name}-`));
  }

  context(): SourceContext {
    const catalogue = settingsCatalogue([this.definition]);
    return {
      config: defaultConfigView(catalogue, this.overrides),
      log: getLogger(`test/${this.definition.name}`),
      hostRoot: this.hostRoot,
      stateDir: this.stateDir,
      emit: (event, options = {}) => {
        this.events.push({ event, options });
        for (const w of this.waiters.splice(0)) w();
      },
      setStatus: (status) => this.statuses.push(status),
    };
  }

  async start(): Promise<Source> {
    this.source = await this.definition.start(this.context());
    return this.source;
  }

  lastStatus(): SourceStatus | undefined {
    return this.statuses[this.statuses.length - 1];
  }

  eventsNamed(name: string): SecurityEvent[] {
    return this.events.filter((e) => e.event.Name === name).map((e) => e.event);
  }

  /** Resolves when `predicate` holds over the recorded events, or rejects after `timeoutMs`. */
  async waitFor(predicate: (events: RecordedEvent[]) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.events)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for events (have ${this.events.length})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async stop(): Promise<void> {
    await this.source?.stop();
    this.source = undefined;
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}
