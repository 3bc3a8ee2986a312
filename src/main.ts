import path from 'node:path';
import { toolVersion } from './cli/scan';
import { configurationErrorEvent, ConfigStore, type ConfigUpdate } from './config/config-store';
import { resolveConfigPath } from './config/local-config-file';
import { buildCatalogue, CONFIG_KEY } from './config/settings';
import { resolveHostRoot } from './core/host-root';
import { getLogger, levelFromEnvironment, setLogDestination, setLogLevel, type Logger, type LogLevel } from './core/logger';
import { openPipeline } from './pipeline/pipeline';
import { MetricsServer } from './runtime/metrics';
import { PropertyReporter, reportedDocument, type AgentIdentity, type ReportInputs } from './runtime/property-reporter';
import { SourceManager } from './runtime/source-manager';
import { StandaloneUpstream } from './runtime/standalone-upstream';
import { loadAgentId, lockStateDir, resolveStateDir } from './runtime/state';
import type { DesiredProperties, Upstream } from './runtime/upstream';
import { StdoutTransport } from './sinks/stdout-transport';
import { DetectionStage } from './detections/stage';
import { ALL_SOURCES, sourceSettings } from './sources/index';
import type { SourceDefinition } from './sources/source';

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

/** IoT Edge (production workload API, or a connection string as ModuleClient.fromEnvironment reads it) or standalone. */
export function selectMode(env: NodeJS.ProcessEnv): Upstream['mode'] {
  return env.IOTEDGE_WORKLOADURI || env.EdgeHubConnectionString || env.IotHubConnectionString ? 'edgeHub' : 'standalone';
}

/** What the edgeHub upstream offers beyond the Upstream contract (absent standalone). */
type UpstreamWithMethods = Upstream & {
  onMethod?(name: string, handler: (payload: unknown) => { status: number; payload?: unknown }): void;
  connectionState?(): string;
};

interface EdgeHubModule {
  createEdgeHubUpstream(options: { log?: Logger }): UpstreamWithMethods;
}

function createUpstream(mode: Upstream['mode'], stateDir: string, env: NodeJS.ProcessEnv, argv: readonly string[]): Upstream {
  if (mode === 'standalone') {
    return new StandaloneUpstream({ configFile: resolveConfigPath(argv, env), stateDir, transport: new StdoutTransport(), log: getLogger('standalone') });
  }
  let edgeHub: EdgeHubModule;
  try {
    edgeHub = require('./sinks/edgehub/upstream') as EdgeHubModule;
  } catch (error) {
    throw new Error(`IoT Edge variables are set but the edgeHub upstream cannot be loaded (${(error as Error).message.split('\n')[0]})`);
  }
  return edgeHub.createEdgeHubUpstream({ log: getLogger('edgehub') });
}

/** The `snapshot` direct method: 400 for a malformed payload or an unknown source name. */
export function snapshotMethod(manager: Pick<SourceManager, 'snapshotNow'>, payload: unknown): { status: number; payload: unknown } {
  const sources = payload && typeof payload === 'object' ? (payload as { sources?: unknown }).sources : undefined;
  if (sources !== undefined && !(Array.isArray(sources) && sources.every((s) => typeof s === 'string'))) {
    return { status: 400, payload: { error: 'payload must be {"sources": ["<source name>", …]} or empty' } };
  }
  const result = manager.snapshotNow(sources as string[] | undefined);
  return { status: result.unknown.length > 0 ? 400 : 200, payload: result };
}

/** The twin's logLevel when it sets one, else the environment's (EDGEGUARD_LOG_LEVEL, RuntimeLogLevel). */
function effectiveLogLevel(desired: DesiredProperties, update: ConfigUpdate, env: NodeJS.ProcessEnv): LogLevel | undefined {
  const section = desired[CONFIG_KEY] as Record<string, unknown> | undefined;
  const given = section && typeof section === 'object' ? section.logLevel : undefined;
  if (given === undefined || given === null) return levelFromEnvironment(env);
  if (update.problems.some((p) => p.setting === 'logLevel')) return undefined;
  return update.view.string('logLevel') as LogLevel;
}

/**
 * The Prometheus endpoint (GET /metrics) when EDGEGUARD_METRICS_LISTEN is set (`:9600`, `host:port`), for
 * IoT Edge's metrics-collector. A bad address or a busy port is logged; the agent runs without it.
 */
async function startMetrics(env: NodeJS.ProcessEnv, collect: ConstructorParameters<typeof MetricsServer>[0]): Promise<MetricsServer | undefined> {
  const address = env.EDGEGUARD_METRICS_LISTEN?.trim();
  if (!address) return undefined;
  const server = new MetricsServer(collect);
  try {
    const bound = await server.listen(address);
    log.info('metrics endpoint listening', { address: `${bound.address}:${bound.port}`, path: '/metrics' });
    return server;
  } catch (error) {
    log.error('metrics endpoint not started', { address, error: error instanceof Error ? error.message : String(error) });
    return undefined;
  }
}

/** Starts the agent: state, upstream, pipeline, sources, reported properties. */
export async function startAgent(options: AgentOptions = {}): Promise<Agent> {
  const env = options.env ?? process.env;
  const argv = options.argv ?? process.argv.slice(2);
  const mode = selectMode(env);
  setLogDestination(mode === 'edgeHub' ? 'stdout' : 'stderr');
  setLogLevel(levelFromEnvironment(env));

  const stateDir = resolveStateDir(env);
  const unlockStateDir = lockStateDir(stateDir, log);
  const agentId = loadAgentId(stateDir, log);
  const hostRoot = resolveHostRoot(env);
  const version = toolVersion();
  const sources = options.sources ?? ALL_SOURCES;
  const store = new ConfigStore(buildCatalogue(sourceSettings(sources)), { standalone: mode === 'standalone', log: getLogger('config') });
  const identity: AgentIdentity = { version, mode, agentId, startedAt: new Date().toISOString(), hostRoot };
  log.info('EdgeGuard starting', { version, mode, agentId, stateDir, hostRoot });

  const upstream = createUpstream(mode, stateDir, env, argv);
  const detections = new DetectionStage({ stateDir, log: getLogger('detections') });
  detections.configure(store.current());
  const pipeline = await openPipeline({ agentId, agentVersion: version, stateDir, transport: upstream.transport, log: getLogger('pipeline'), detections }, store.current());

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
  };
  reporter = new PropertyReporter((patch) => upstream.reportProperties(patch), inputs, { log: getLogger('reported') });
  // edgeHub answers a `status` direct method with the reported document (handy when the twin lags).
  (upstream as UpstreamWithMethods).onMethod?.('status', () => ({ status: 200, payload: reportedDocument(inputs) }));
  // `snapshot` with {"sources": ["ContainerRuntime", …]} (or no payload: every snapshot source) takes them now.
  (upstream as UpstreamWithMethods).onMethod?.('snapshot', (payload) => snapshotMethod(manager, payload));
  // `alerts` returns the recent alerts; `acceptBaseline` accepts a deviation or restarts learning.
  (upstream as UpstreamWithMethods).onMethod?.('alerts', (payload) => detections.recentAlerts(payload));
  (upstream as UpstreamWithMethods).onMethod?.('acceptBaseline', (payload) => detections.baselineMethod(payload));

  let sourcesStarted = false;
  let firstDesired: () => void = () => undefined;
  const gotFirstDesired = new Promise<void>((resolve) => (firstDesired = resolve));
  let stopping: Promise<void> | undefined;
  upstream.onDesired((desired) => {
    // Desired properties arrive after every (re)connect: what the outage held back goes now.
    pipeline.resume();
    try {
      const update = store.applyDesired(desired);
      if (update.newProblems.length > 0) pipeline.ingest(configurationErrorEvent(update.newProblems));
      const level = effectiveLogLevel(desired, update, env);
      if (level) setLogLevel(level);
      if (update.changedSettings.length > 0) {
        log.info('configuration applied', { changed: update.changedSettings.length, settings: update.changedSettings.slice(0, 10).join(',') });
        detections.configure(update.view);
        pipeline.applyConfig(update.view);
        if (sourcesStarted && !stopping) void manager.apply(update.view);
      }
      reporter?.schedule();
    } catch (error) {
      log.error('configuration could not be applied', { error: error instanceof Error ? error.message : String(error) });
    }
    firstDesired();
  });

  pipeline.start();
  await upstream.start();
  const waitMs = options.firstConfigWaitMs ?? 10_000;
  let waitTimer: NodeJS.Timeout | undefined;
  const waited = await Promise.race([gotFirstDesired.then(() => true), new Promise<boolean>((resolve) => (waitTimer = setTimeout(() => resolve(false), waitMs)))]);
  clearTimeout(waitTimer);
  if (!waited) log.warn('no configuration from the module twin yet: starting with defaults', { waitedMs: waitMs });
  sourcesStarted = true;
  await manager.apply(store.current());
  reporter.start();
  const metrics = await startMetrics(env, () => ({
    pipeline: pipeline.stats(),
    sources: manager.statuses(),
    upstreamConnected: (upstream as UpstreamWithMethods).connectionState?.() === 'connected' || upstream.mode === 'standalone',
    configurationErrors: store.problems().filter((p) => p.errorType === 'TypeMismatch').length,
    alerts: detections.alertCounts(),
  }));
  log.info('EdgeGuard running', { sources: Object.entries(manager.statuses()).map(([n, s]) => `${n}:${s.state}`).join(',') });

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log.info('stopping: sources, then flushing the queues');
      await manager.stopAll();
      try {
        await pipeline.close(5000);
      } catch (error) {
        log.error('pipeline close failed', { error });
      }
      try {
        await reporter?.flush();
      } catch {
        // best effort: the upstream may be gone
      }
      reporter?.close();
      await metrics?.close().catch(() => undefined);
      try {
        await upstream.close();
      } catch (error) {
        log.warn('upstream close failed', { error });
      }
      unlockStateDir();
      log.info('stopped');
    })();
    return stopping;
  };
  return { agentId, mode, stateDir, stop };
}

let processHandlersInstalled = false;

/** Logs what escaped every other handler; the agent keeps running (sources and pipeline contain their own failures). */
function installProcessHandlers(): void {
  if (processHandlersInstalled) return;
  processHandlersInstalled = true;
  process.on('unhandledRejection', (reason) => {
    log.error('unhandled promise rejection (ignored)', { error: reason instanceof Error ? reason.message : String(reason) });
  });
  process.on('uncaughtException', (error) => {
    log.error('uncaught exception (ignored)', { error: error.message, stack: (error.stack ?? '').split('\n').slice(1, 4).join(' | ') });
  });
}

/**
 * The agent process: starts, then on SIGTERM/SIGINT stops the sources, flushes and persists the
 * queues, closes the upstream and exits 0. A second signal exits at once.
 */
export async function runAgent(options: AgentOptions = {}): Promise<void> {
  installProcessHandlers();
  let agent: Agent | undefined;
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
