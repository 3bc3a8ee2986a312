import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ConfigView } from '../config/config-view';
import type { SettingValue } from '../config/settings';
import type { SecurityEvent } from '../core/event';
import type { Logger } from '../core/logger';
import { enabledSettingName } from '../sources/index';
import { crashBackoffMs, outsideSourceScope, runInSourceScope, type SourceScope } from './source-scope';
import { SourceUnavailableError, type EmitOptions, type Source, type SourceContext, type SourceDefinition, type SourceStatus } from '../sources/source';
import { errorText } from '../core/error-text';

/** A source's status as reported in the twin. */
export interface ReportedSourceStatus extends SourceStatus {
  /** When the source entered this state (ISO 8601 UTC). */
  since: string;
}

export interface SourceManagerOptions {
  readonly sources: readonly SourceDefinition[];
  readonly hostRoot: string;
  /** Each source gets `<stateDir>/<SourceName>`, created. */
  readonly stateDir: string;
  /** Where events go (pipeline.ingest). */
  emit(event: SecurityEvent, options?: EmitOptions): void;
  readonly log: Logger;
  /** Called whenever a source's status changes (the runtime reports it). */
  onStatusChange?(): void;
  /** Sees every setting read, by source name ('SourceManager' for the collectorEnabled<Name> switches). */
  onSettingRead?(reader: string, name: string, value: SettingValue): void;
  /** Longest wait for one source's stop() before it is abandoned. Default 5 s. */
  readonly stopTimeoutMs?: number;
}

function reasonOf(error: unknown): string {
  if (error instanceof SourceUnavailableError) return error.reason;
  return errorText(error);
}

function withTimeout(promise: Promise<void>, ms: number): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  return Promise.race([promise.then(() => 'done' as const), timeout]).finally(() => clearTimeout(timer));
}

/** One source's lifecycle: start, snapshots, stop, restart; every failure is contained here. */
class SourceRunner {
  private source?: Source;
  /** Bumped at each start/stop: emits and statuses from an older instance are ignored. */
  private generation = 0;
  private running = false;
  /** The configuration the running instance was started with. */
  private startedWith?: ConfigView;
  /** The configuration a start failed with: not retried until a setting it read changes (or a re-enable). */
  private failedWith?: ConfigView;
  /** Every setting the source read through its context (at start or later), beside the ones it declares. */
  private readonly readNames = new Set<string>();
  private readonly declared: ReadonlySet<string>;
  private readonly undeclaredSeen = new Set<string>();
  private snapshotEveryMs?: number;
  private snapshotTimer?: NodeJS.Timeout;
  /** The generation whose snapshot is running: an old instance's slow snapshot does not hold back the new one's. */
  private snapshotInFlight?: number;
  private snapshotFailure?: string;
  private chain: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  /** The configuration last applied: a crashed source restarts with it. */
  private lastConfig?: ConfigView;
  /** Crashes in a row (an uncaught exception charged to this source); reset after 10 quiet minutes. */
  private crashes = 0;
  private lastCrashAt = 0;
  private restartTimer?: NodeJS.Timeout;
  private crashedGeneration = -1;
  status: ReportedSourceStatus = { state: 'disabled', reason: 'not started yet', since: new Date().toISOString() };

  constructor(
    readonly definition: SourceDefinition,
    private readonly options: SourceManagerOptions,
  ) {
    this.log = options.log.child(definition.name);
    this.declared = new Set(definition.events.map((e) => e.name));
  }

  /** Serialised per source: a slow start never blocks the others. */
  apply(config: ConfigView): Promise<void> {
    this.chain = this.chain.then(() => this.reconcile(config)).catch((error: unknown) => this.log.error('source reconfiguration failed', { error: reasonOf(error) }));
    return this.chain;
  }

  shutdown(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.chain = this.chain.then(() => this.stop()).catch(() => undefined);
    return this.chain;
  }

  private async reconcile(config: ConfigView): Promise<void> {
    this.lastConfig = config;
    const enabledName = enabledSettingName(this.definition);
    const enabled = !config.has(enabledName) || config.boolean(enabledName);
    if (config.has(enabledName)) this.options.onSettingRead?.('SourceManager', enabledName, enabled);
    if (!enabled) {
      if (this.running) {
        this.log.info('source disabled', { setting: enabledName });
        await this.stop();
      }
      this.failedWith = undefined;
      this.setStatus({ state: 'disabled', reason: `${enabledName} is false` });
      return;
    }
    if (this.running && this.startedWith && this.changedSince(this.startedWith, config)) {
      this.log.info('settings changed: restarting source');
      await this.stop();
    }
    if (!this.running && (!this.failedWith || this.changedSince(this.failedWith, config))) await this.start(config);
    this.scheduleSnapshots(config);
  }

  /** True when a setting the source declares or has read differs between `before` and `now`. */
  private changedSince(before: ConfigView, now: ConfigView): boolean {
    const names = [...new Set([...this.definition.settings.map((s) => s.name), ...this.readNames])].filter((n) => now.has(n));
    return before.signature(names) !== now.signature(names);
  }

  private async start(config: ConfigView): Promise<void> {
    const generation = ++this.generation;
    this.running = true;
    this.startedWith = config;
    this.snapshotEveryMs = undefined;
    this.snapshotFailure = undefined;
    let statusSet = false;
    const current = () => generation === this.generation;
    const stateDir = path.join(this.options.stateDir, this.definition.name);
    const sourceName = this.definition.name;
    const ctx: SourceContext = {
      config: config.recording((name, value) => {
        this.readNames.add(name);
        this.options.onSettingRead?.(sourceName, name, value);
      }),
      log: this.log,
      hostRoot: this.options.hostRoot,
      stateDir,
      emit: (event, emitOptions) => {
        if (!current()) return;
        if (!this.declared.has(event.Name) && !this.undeclaredSeen.has(event.Name)) {
          // A programming error (test/unit/architecture/event-types.test.ts should have caught it): said once, the event still goes.
          this.undeclaredSeen.add(event.Name);
          this.log.error('source emitted an event type it does not declare', { event: event.Name });
        }
        try {
          this.options.emit(event, emitOptions);
        } catch (error) {
          this.log.error('event dropped: the pipeline refused it', { event: event.Name, error: reasonOf(error) });
        }
      },
      setStatus: (status) => {
        if (!current()) return;
        statusSet = true;
        this.setStatus(status);
      },
    };
    try {
      try {
        mkdirSync(stateDir, { recursive: true });
      } catch (error) {
        // A full or read-only state directory: the source runs, its own state lives in memory.
        this.log.warn('source state directory cannot be created', { stateDir, error: (error as NodeJS.ErrnoException).code ?? String(error) });
      }
      const source = await runInSourceScope(this.scope(generation), () => this.definition.start(ctx));
      if (!current()) {
        await source.stop().catch(() => undefined);
        return;
      }
      this.source = source;
      this.failedWith = undefined;
      if (!statusSet) this.setStatus({ state: 'running' });
      this.log.info('source started', { state: this.status.state, ...(this.status.method ? { method: this.status.method } : {}) });
    } catch (error) {
      this.running = false;
      this.source = undefined;
      this.failedWith = config;
      const reason = error instanceof SourceUnavailableError ? error.reason : `start failed: ${reasonOf(error)}`;
      this.setStatus({ state: 'failed', reason });
      this.log.warn('source not running', { reason });
    }
  }

  private scheduleSnapshots(config: ConfigView): void {
    if (!this.source?.snapshot) return;
    let every: number;
    try {
      every = config.durationMs('snapshotFrequency');
    } catch {
      return;
    }
    if (every === this.snapshotEveryMs) return;
    const first = this.snapshotEveryMs === undefined;
    this.snapshotEveryMs = every;
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    this.snapshotTimer = setInterval(() => void this.takeSnapshot(), every);
    if (first) void this.takeSnapshot();
  }

  /** Takes a snapshot now (on demand); false when the source is not running or takes no snapshots. */
  snapshotNow(): boolean {
    if (!this.source?.snapshot) return false;
    void this.takeSnapshot();
    return true;
  }

  /** One snapshot at a time; a failing snapshot degrades the status until one succeeds. */
  private async takeSnapshot(): Promise<void> {
    const source = this.source;
    const generation = this.generation;
    if (!source?.snapshot || this.snapshotInFlight === generation) return;
    this.snapshotInFlight = generation;
    try {
      await runInSourceScope(this.scope(generation), () => source.snapshot!());
      if (generation === this.generation && this.snapshotFailure) {
        this.snapshotFailure = undefined;
        this.log.info('snapshot works again');
        this.setStatus({ state: 'running' });
      }
    } catch (error) {
      if (generation !== this.generation) return;
      const reason = `snapshot failed: ${reasonOf(error)}`;
      if (reason !== this.snapshotFailure) this.log.warn('snapshot failed', { error: reasonOf(error) });
      this.snapshotFailure = reason;
      this.setStatus({ state: 'degraded', reason, method: this.status.method });
    } finally {
      if (this.snapshotInFlight === generation) this.snapshotInFlight = undefined;
    }
  }

  /** What an exception escaping this source's callbacks is charged to. */
  private scope(generation: number): SourceScope {
    return { source: this.definition.name, crashed: (error) => this.crashed(generation, error) };
  }

  /**
   * An exception escaped one of this instance's callbacks to the process: the source is marked failed,
   * stopped, and restarted after a backoff that doubles with each crash in a row.
   */
  private crashed(generation: number, error: unknown): void {
    if (generation !== this.generation || generation === this.crashedGeneration) return;
    this.crashedGeneration = generation;
    const now = Date.now();
    if (now - this.lastCrashAt > 600_000) this.crashes = 0;
    this.lastCrashAt = now;
    this.crashes++;
    const delay = crashBackoffMs(this.crashes);
    const reason = `crashed: ${reasonOf(error)}; restarting in ${Math.round(delay / 1000)} s (crash ${this.crashes} in a row)`;
    this.log.error('source crashed (uncaught exception)', { error: reasonOf(error), restartInMs: delay, crashes: this.crashes });
    this.setStatus({ state: 'failed', reason });
    outsideSourceScope(() => {
      this.chain = this.chain.then(() => this.stop()).catch(() => undefined);
      if (this.restartTimer) clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        const config = this.lastConfig;
        if (config && !this.stopped) void this.apply(config);
      }, delay);
      this.restartTimer.unref?.();
    });
  }

  private stopped = false;

  private async stop(): Promise<void> {
    this.generation++;
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    this.snapshotTimer = undefined;
    this.snapshotEveryMs = undefined;
    const source = this.source;
    this.source = undefined;
    this.running = false;
    if (!source) return;
    try {
      const outcome = await withTimeout(Promise.resolve().then(() => source.stop()), this.options.stopTimeoutMs ?? 5000);
      if (outcome === 'timeout') this.log.warn('source did not stop in time; abandoned');
    } catch (error) {
      this.log.warn('source stop failed', { error: reasonOf(error) });
    }
  }

  private setStatus(status: SourceStatus): void {
    const prev = this.status;
    if (prev.state === status.state && prev.reason === status.reason && prev.method === status.method) return;
    this.status = { state: status.state, ...(status.reason ? { reason: status.reason } : {}), ...(status.method ? { method: status.method } : {}), since: new Date().toISOString() };
    try {
      this.options.onStatusChange?.();
    } catch (error) {
      this.log.error('status listener failed', { error: reasonOf(error) });
    }
  }
}

export interface SnapshotRequestResult {
  triggered: string[];
  /** Named sources that are stopped, failed or take no snapshots. */
  notRunning: string[];
  unknown: string[];
}

/**
 * Runs every source of the catalogue: starts the enabled ones, isolates failures (a source that
 * cannot start is reported failed, the others run), schedules snapshots every snapshotFrequency,
 * stops/starts on collectorEnabled<Name>, restarts a source when its own settings change.
 */
export class SourceManager {
  private readonly runners: SourceRunner[];

  constructor(options: SourceManagerOptions) {
    this.runners = options.sources.map((d) => new SourceRunner(d, options));
  }

  /** Applies a configuration; resolves when every source has reacted to it. */
  async apply(config: ConfigView): Promise<void> {
    await Promise.all(this.runners.map((r) => r.apply(config)));
  }

  /**
   * Snapshots now, outside the snapshotFrequency schedule (the `snapshot` direct method): every running
   * snapshot source, or the named ones.
   */
  snapshotNow(names?: readonly string[]): SnapshotRequestResult {
    const known = new Set(this.runners.map((r) => r.definition.name));
    const result: SnapshotRequestResult = { triggered: [], notRunning: [], unknown: (names ?? []).filter((n) => !known.has(n)) };
    for (const runner of this.runners) {
      if (names && !names.includes(runner.definition.name)) continue;
      if (runner.snapshotNow()) result.triggered.push(runner.definition.name);
      else if (names) result.notRunning.push(runner.definition.name);
    }
    return result;
  }

  statuses(): Record<string, ReportedSourceStatus> {
    return Object.fromEntries(this.runners.map((r) => [r.definition.name, { ...r.status }]));
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.shutdown()));
  }
}
