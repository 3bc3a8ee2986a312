import './agent/lean-modules-install';
import path from 'node:path';
import { settingsCatalogue } from './agent/catalogue';
import { ConfigurationApplier } from './agent/configuration-applier';
import { applyDesiredProperties, stopInOrder } from './agent/lifecycle';
import { EVENT_TYPES } from './agent/event-registry';
import { startMetrics } from './agent/metrics';
import { PropertyReporter, reportedDocument, type AgentIdentity, type ReportInputs } from './agent/property-reporter';
import { SourceManager } from './agent/source-manager';
import { scheduleMemorySettle } from './agent/memory-settle';
import { resolveStateDir } from './agent/state';
import { StateGuard } from './agent/state-guard';
import { watchStateHealth } from './agent/state-watch';
import { subscribeComponents } from './agent/subscribers';
import { createUpstream, selectMode } from './agent/upstream-factory';
import { ConfigStore } from './config/config-store';
import { errorText } from './core/error-text';
import { resolveHostRoot } from './core/host-root';
import { getLogger, levelFromEnvironment, setLogDestination, setLogLevel } from './core/logger';
import { agentVersion } from './core/version';
import { openPipeline } from './pipeline/pipeline';
import { DetectionStage } from './detections/stage';
import { ALL_SOURCES } from './sources/index';
import { RateLimiter, SNAPSHOT_METHOD_BURST, SNAPSHOT_METHOD_REFILL_MS } from './agent/rate-limit';
import { currentSourceScope } from './agent/source-scope';
import { AGENT_UMASK } from './agent/state-permissions';
import type { SourceDefinition } from './sources/source';
import type { Upstream } from './upstream/upstream';

export { selectMode } from './agent/upstream-factory';

const log = getLogger('agent');

export interface AgentOptions {
  env?: NodeJS.ProcessEnv;
  /** Command-line arguments (for --config); default process.argv. */
  argv?: readonly string[];
  /** Sources to run; default ALL_SOURCES. */
  sources?: readonly SourceDefinition[];
  /** How long to wait for the first desired properties before sources start with defaults. Default 10 s. */
  firstConfigWaitMs?: number;
}

export interface Agent {
  readonly agentId: string;
  readonly mode: Upstream['mode'];
  readonly stateDir: string;
  /** Stops sources, flushes and persists the queues, closes the upstream. Idempotent. */
  stop(): Promise<void>;
}

const MAX_SNAPSHOT_NAMES = 32;
const MAX_SOURCE_NAME_CHARS = 64;
const defaultSnapshotLimiter = new RateLimiter(SNAPSHOT_METHOD_BURST, SNAPSHOT_METHOD_REFILL_MS);

/**
 * The `snapshot` direct method: 400 for a malformed payload or an unknown source name, 429 (with
 * retryAfterSeconds) beyond 3 calls at once and one every 20 s.
 */
export function snapshotMethod(manager: Pick<SourceManager, 'snapshotNow'>, payload: unknown, limiter: RateLimiter = defaultSnapshotLimiter): { status: number; payload: unknown } {
  const sources = payload && typeof payload === 'object' ? (payload as { sources?: unknown }).sources : undefined;
  if (
    sources !== undefined &&
    !(Array.isArray(sources) && sources.length <= MAX_SNAPSHOT_NAMES && sources.every((s) => typeof s === 'string' && s.length <= MAX_SOURCE_NAME_CHARS))
  ) {
    return { status: 400, payload: { error: `payload must be {"sources": ["<source name>", …]} (at most ${MAX_SNAPSHOT_NAMES} names) or empty` } };
  }
  const waitMs = limiter.take();
  if (waitMs > 0) return { status: 429, payload: { error: 'snapshot requested too often', retryAfterSeconds: Math.ceil(waitMs / 1000) } };
  const result = manager.snapshotNow(sources as string[] | undefined);
  return { status: result.unknown.length > 0 ? 400 : 200, payload: result };
}

/**
 * Starts the agent: state, upstream, pipeline, sources, reported properties. The configuration flows in
 * through one applier with named subscribers; the upstream says when it is connected.
 */
export async function startAgent(options: AgentOptions = {}): Promise<Agent> {
  const env = options.env ?? process.env;
  const mode = selectMode(env);
  setLogDestination(mode === 'edgeHub' ? 'stdout' : 'stderr');
  setLogLevel(levelFromEnvironment(env));

  process.umask(AGENT_UMASK);
  const stateDir = resolveStateDir(env);
  const stateGuard = StateGuard.open(stateDir, log);
  const agentId = stateGuard.agentId;
  let stopStateWatch = (): void => undefined;
  const unlockStateDir = (): void => {
    stopStateWatch();
    stateGuard.close();
  };
  const hostRoot = resolveHostRoot(env);
  const version = agentVersion();
  const sources = options.sources ?? ALL_SOURCES;
  const store = new ConfigStore(settingsCatalogue(sources), { standalone: mode === 'standalone', log: getLogger('config') });
  const identity: AgentIdentity = { version, mode, agentId, startedAt: new Date().toISOString(), hostRoot };
  log.info('EdgeGuard starting', { version, mode, agentId, stateDir, hostRoot });

  const upstream = createUpstream(mode, stateDir, env, options.argv ?? process.argv.slice(2));
  const detections = new DetectionStage({ stateDir, log: getLogger('detections') });
  detections.configure(store.current());
  const pipeline = await openPipeline(
    { agentId, agentVersion: version, eventTypes: EVENT_TYPES, stateDir, stateLockHeld: () => stateGuard.health().lock === 'held', transport: upstream.transport, log: getLogger('pipeline'), detections: detections.factory },
    store.current(),
  );
  let reporter: PropertyReporter | undefined;
  const manager = new SourceManager({
    sources,
    hostRoot,
    stateDir: path.join(stateDir, 'sources'),
    emit: (event, emitOptions) => pipeline.ingest(event, emitOptions),
    log: getLogger('sources'),
    onStatusChange: () => reporter?.schedule(),
  });
  const inputs: ReportInputs = {
    identity,
    configuration: () => store.reportedConfiguration(),
    problems: () => store.problems(),
    unknownSettings: () => store.unknownSettings(),
    sources: () => manager.statuses(),
    pipelineStats: () => pipeline.stats(),
    detections: () => detections.status(),
    stateDirectory: () => stateGuard.status(),
  };
  reporter = new PropertyReporter((patch) => upstream.reportProperties(patch), inputs, { log: getLogger('reported') });
  // edgeHub answers `status` with the reported document (handy when the twin lags) and `snapshot` with {"sources": […]}.
  upstream.onMethod?.('status', () => ({ status: 200, payload: reportedDocument(inputs) }));
  upstream.onMethod?.('snapshot', (payload) => snapshotMethod(manager, payload));
  // `alerts` returns the recent alerts; `acceptBaseline` accepts a deviation or restarts learning.
  upstream.onMethod?.('alerts', (payload) => detections.recentAlerts(payload));
  upstream.onMethod?.('acceptBaseline', (payload) => detections.baselineMethod(payload));

  let sourcesStarted = false;
  let stopping: Promise<void> | undefined;
  const applier = subscribeComponents(new ConfigurationApplier(store, { log }), {
    pipeline,
    manager,
    env,
    sourcesLive: () => sourcesStarted && !stopping,
    reportSoon: () => reporter?.schedule(),
    detections,
  });

  // What the outage held back goes as soon as the upstream is back, not at the end of the backoff.
  upstream.onConnected(() => pipeline.resume());
  pipeline.start();
  const waitMs = options.firstConfigWaitMs ?? 10_000;
  if (!(await applyDesiredProperties(upstream, applier, waitMs))) log.warn('no configuration from the module twin yet: starting with defaults', { waitedMs: waitMs });
  sourcesStarted = true;
  await manager.apply(store.current());
  reporter.start();
  stopStateWatch = watchStateHealth(() => ({ ...stateGuard.health(), persisting: pipeline.stats().persistence?.persisting ?? true }), () => reporter?.schedule());
  const metrics = await startMetrics(env, () => ({
    pipeline: pipeline.stats(),
    sources: manager.statuses(),
    upstreamConnected: upstream.isConnected(),
    configurationErrors: store.problems().filter((p) => p.errorType === 'TypeMismatch').length,
    alerts: detections.alertCounts(),
  }));
  log.info('EdgeGuard running', { sources: Object.entries(manager.statuses()).map(([n, s]) => `${n}:${s.state}`).join(',') });
  // Start-up-only pages (module compilation, ICU, OpenSSL init) go back to the device once it is up.
  const memorySettle = scheduleMemorySettle(env, getLogger('memory'));

  const stop = (): Promise<void> => (stopping ??= (memorySettle.stop(), stopInOrder({ manager, pipeline, reporter, metrics, upstream, unlockStateDir, log, detections })));
  return { agentId, mode, stateDir, stop };
}

let processHandlersInstalled = false;
/** Longest wait for the queues to flush before a fatal error exits. */
const FATAL_FLUSH_MS = 10_000;

function faultDetails(error: unknown): { error: string; stack?: string } {
  if (!(error instanceof Error)) return { error: errorText(error) };
  return { error: errorText(error), stack: (error.stack ?? '').split('\n').slice(1, 4).join(' | ') };
}

/**
 * What escaped every other handler. Charged to a source (its callbacks run in its scope): that source is
 * marked failed and restarted with backoff, the agent keeps running. Anything else means the agent's own
 * state can no longer be trusted: the queues are flushed (bounded) and the process exits 1, so that
 * edgeAgent restarts the module.
 */
function installProcessHandlers(agent: () => Agent | undefined): void {
  if (processHandlersInstalled) return;
  processHandlersInstalled = true;
  let exiting = false;
  const onFault = (kind: 'uncaught exception' | 'unhandled promise rejection') => (error: unknown) => {
    const scope = currentSourceScope();
    if (scope) {
      scope.crashed(error);
      return;
    }
    log.error(`${kind}: flushing the queues and exiting`, faultDetails(error));
    if (exiting) process.exit(1);
    exiting = true;
    const running = agent();
    const timer = setTimeout(() => process.exit(1), FATAL_FLUSH_MS);
    (running ? running.stop() : Promise.resolve()).finally(() => {
      clearTimeout(timer);
      process.exit(1);
    });
  };
  process.on('uncaughtException', onFault('uncaught exception'));
  process.on('unhandledRejection', onFault('unhandled promise rejection'));
}

/**
 * The agent process: starts, then on SIGTERM/SIGINT stops the sources, flushes and persists the
 * queues, closes the upstream and exits 0. A second signal exits at once.
 */
export async function runAgent(options: AgentOptions = {}): Promise<void> {
  let agent: Agent | undefined;
  installProcessHandlers(() => agent);
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    signalled = true;
    log.info('signal received', { signal });
    const done = agent ? agent.stop() : Promise.resolve();
    done.then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    agent = await startAgent(options);
  } catch (error) {
    log.error('EdgeGuard cannot start', { error: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  }
  if (signalled) await agent.stop().then(() => process.exit(0));
  // Runs until a signal: the timers of the pipeline and sources keep the process alive.
  await new Promise<never>(() => undefined);
}

if (require.main === module) void runAgent();
