import type Dockerode from 'dockerode';
import type { SettingDefinition } from '../../config/settings';
import { createEvent, type PayloadItem } from '../../core/event';
import { analyseContainer } from '../../rules/index';
import type { Finding } from '../../rules/finding';
import { parseRuleOverridesText, RuleConfigError, type RuleOverrides } from '../../rules/overrides';
import { SourceUnavailableError, type Source, type SourceContext, type SourceDefinition } from '../source';
import { activityPayload, DEFAULT_ACTIVITY_ACTIONS, EXEC_ACTIONS, healthCheckCommand, WATCHED_TYPES, type ExecDetails } from './activity';
import { connectDocker, DockerHostError, inspectAllContainers, inspectContainer, parseDockerHost, resolveDockerHost, type DockerConnection } from './client';
import type { DockerEvent } from './events';
import { inventoryItem } from './inventory';
import { containerDirectory } from './container-directory';
import { DockerEventWatcher, type WatcherStats } from './watcher';
import { BoundedMap } from '../../core/bounded-map';
import { defineEventType } from '../../core/event-types';

export const INVENTORY_EVENT = 'ContainerInventory';
export const ACTIVITY_EVENT = 'ContainerActivity';
export const CONTAINER_INVENTORY = defineEventType({ name: INVENTORY_EVENT, category: 'Periodic', defaultPriority: 'Low', schema: 'own' });
export const CONTAINER_ACTIVITY = defineEventType({ name: ACTIVITY_EVENT, category: 'Triggered', defaultPriority: 'Low', schema: 'own' });

/** Execs and containers remembered for enrichment; beyond this the oldest are forgotten. */
const CACHE_LIMIT = 1024;

const SETTINGS: readonly SettingDefinition[] = [
  { name: 'dockerReconnectMinBackoff', type: 'duration', default: 'PT0.5S', description: 'First wait before reconnecting to a Docker daemon that is down or went away; doubles on each failure.' },
  { name: 'dockerReconnectMaxBackoff', type: 'duration', default: 'PT30S', description: 'Longest wait between reconnection attempts to the Docker daemon.' },
  {
    name: 'containerActivityActions',
    type: 'stringList',
    default: [...DEFAULT_ACTIVITY_ACTIONS],
    description: 'Docker event actions reported as ContainerActivity, as <type>.<action> (container.exec_start, image.pull, volume.mount…).',
  },
  {
    name: 'containerActivityIncludeHealthChecks',
    type: 'boolean',
    default: false,
    description: 'Also report the exec events of Docker health checks (the engine runs them as execs, e.g. every 30 s per container).',
  },
];

interface ContainerFacts {
  name: string;
  user: string;
  healthCheck?: string;
}

function quoteArg(arg: string): string {
  return arg === '' || /[\s'"\\$`]/.test(arg) ? `'${arg.replace(/'/g, `'\\''`)}'` : arg;
}

/** Shares an inventory item's identity with the other sources (container-directory.ts). */
function publishContainer(item: PayloadItem): void {
  const id = typeof item.ContainerId === 'string' ? item.ContainerId : '';
  if (!/^[0-9a-f]{64}$/.test(id)) return;
  containerDirectory.set({
    id,
    name: typeof item.ContainerName === 'string' ? item.ContainerName : '',
    ...(typeof item.ModuleName === 'string' ? { moduleName: item.ModuleName } : {}),
  });
}

/** The started ContainerRuntime source; stats() serves benchmarks and diagnostics. */
export interface ContainerRuntimeSource extends Source {
  stats(): WatcherStats & { emitted: number };
}

class ContainerRuntime implements ContainerRuntimeSource {
  private readonly watcher: DockerEventWatcher;
  private readonly actions: Set<string>;
  private readonly includeHealthChecks: boolean;
  private readonly overrides?: RuleOverrides;
  private readonly containers = new BoundedMap<string, ContainerFacts>(CACHE_LIMIT);
  private readonly execs = new BoundedMap<string, ExecDetails>(CACHE_LIMIT);
  /** Events are enriched (inspects) one after the other so that they are emitted in stream order. */
  private chain: Promise<void> = Promise.resolve();
  private emitted = 0;

  constructor(
    private readonly ctx: SourceContext,
    private readonly dockerHost: string,
  ) {
    this.actions = new Set(ctx.config.stringList('containerActivityActions'));
    this.includeHealthChecks = ctx.config.boolean('containerActivityIncludeHealthChecks');
    this.overrides = this.readOverrides();
    this.watcher = new DockerEventWatcher({
      dockerHost,
      types: WATCHED_TYPES,
      minBackoffMs: ctx.config.durationMs('dockerReconnectMinBackoff'),
      maxBackoffMs: Math.max(ctx.config.durationMs('dockerReconnectMaxBackoff'), ctx.config.durationMs('dockerReconnectMinBackoff')),
      log: ctx.log,
      onEvent: (event, connection) => this.onEvent(event, connection),
      onState: (state) => {
        if (state.connected) {
          const c = state.connection;
          ctx.setStatus({ state: 'running', method: `Docker Engine API ${c.apiVersion} (engine ${c.daemonVersion}, API ${c.daemonApiVersion}) at ${c.host}` });
          // A daemon that shut down logged its last events (containers stopped on shutdown) after it had
          // closed its API: no stream delivers them. A fresh inventory after each reconnect shows where things stand.
          if (this.watcher.stats.connects > 1) void this.snapshot();
        } else {
          ctx.setStatus({ state: 'failed', reason: `${state.reason}; retrying in ${Math.round(state.retryInMs / 100) / 10} s` });
        }
      },
    });
  }

  /** The same rule settings as the manifest analysis, when that source's setting is in the catalogue. */
  private readOverrides(): RuleOverrides | undefined {
    if (!this.ctx.config.has('manifestRuleOverrides')) return undefined;
    try {
      return parseRuleOverridesText(this.ctx.config.string('manifestRuleOverrides'));
    } catch (error) {
      this.ctx.log.warn(`manifestRuleOverrides ignored for container findings: ${error instanceof RuleConfigError ? error.message : 'cannot be read'}`);
      return undefined;
    }
  }

  start(): void {
    this.watcher.start();
  }

  stats(): WatcherStats & { emitted: number } {
    return { ...this.watcher.stats, emitted: this.emitted };
  }

  async stop(): Promise<void> {
    await this.watcher.stop();
    await this.chain;
  }

  async snapshot(): Promise<void> {
    let connection = this.watcher.current();
    try {
      connection ??= await connectDocker({ dockerHost: this.dockerHost });
      const inspects = await inspectAllContainers(connection.docker);
      const payload = inspects.map((info) => inventoryItem(info, this.findingsOf(info)));
      for (const item of payload) publishContainer(item);
      this.ctx.emit(createEvent(INVENTORY_EVENT, 'Periodic', payload));
    } catch (error) {
      this.ctx.log.warn(`container inventory skipped: Docker daemon at ${this.dockerHost} not reachable (${(error as Error).message})`);
    }
  }

  private findingsOf(info: Dockerode.ContainerInspectInfo): Finding[] {
    try {
      return analyseContainer(info, { overrides: this.overrides });
    } catch (error) {
      this.ctx.log.error(`rule engine failed on container ${info.Name}: ${(error as Error).message}`);
      return [];
    }
  }

  private onEvent(event: DockerEvent, connection: DockerConnection): void {
    if (event.type === 'container' && event.action === 'destroy') {
      this.containers.delete(event.actorId);
      containerDirectory.remove(event.actorId);
    }
    // The directory learns every started container, whether or not its start is reported.
    if (event.type === 'container' && event.action === 'start' && !this.actions.has('container.start')) {
      this.chain = this.chain.then(() => this.inspect(connection.docker, event.actorId)).then(() => undefined);
    }
    if (!this.actions.has(`${event.type}.${event.action}`)) return;
    this.chain = this.chain
      .then(() => this.report(event, connection.docker))
      .catch((error: unknown) => this.ctx.log.error(`ContainerActivity for ${event.type} ${event.action} failed: ${(error as Error).message}`));
  }

  private async report(event: DockerEvent, docker: Dockerode): Promise<void> {
    let urgent = false;
    let findings: Finding[] | undefined;
    let exec: ExecDetails | undefined;
    if (event.type === 'container' && (event.action === 'rename' || event.action === 'update')) this.containers.delete(event.actorId);
    // On create too: a privileged container is reported (and alerted on) before anyone starts it.
    if (event.type === 'container' && (event.action === 'start' || event.action === 'create')) {
      const info = await this.inspect(docker, event.actorId);
      if (info) {
        findings = this.findingsOf(info).filter((f) => f.severity === 'Critical' || f.severity === 'High');
        urgent = findings.some((f) => f.severity === 'Critical');
      }
    }
    if (event.type === 'container' && EXEC_ACTIONS.has(event.action)) {
      exec = await this.execDetails(docker, event);
      if (exec.healthCheck && !this.includeHealthChecks) return;
      urgent = event.action !== 'exec_die' && !exec.healthCheck;
    }
    const containerName = event.type === 'volume' && event.attributes.container ? this.containers.get(event.attributes.container)?.name : undefined;
    const payload = activityPayload(event, { exec, findings, containerName });
    this.emitted++;
    this.ctx.emit(createEvent(ACTIVITY_EVENT, 'Triggered', [payload]), { urgent });
  }

  private async inspect(docker: Dockerode, id: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
    try {
      const info = await inspectContainer(docker, id);
      if (info) {
        publishContainer(inventoryItem(info, []));
        this.containers.set(id, {
          name: info.Name.replace(/^\//, ''),
          user: info.Config?.User ?? '',
          healthCheck: healthCheckCommand(info.Config?.Healthcheck?.Test),
        });
      }
      return info;
    } catch (error) {
      this.ctx.log.warn(`inspect of container ${id.slice(0, 12)} failed: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** Command, user and privilege of an exec: from GET /exec/{id}/json, else from the event alone. */
  private async execDetails(docker: Dockerode, event: DockerEvent): Promise<ExecDetails> {
    const execId = event.attributes.execID;
    const fromEvent = event.attributes.execCommand || event.actionDetail || undefined;
    const known = execId ? this.execs.get(execId) : undefined;
    if (known) {
      if (event.action === 'exec_die') this.execs.delete(execId!);
      return known;
    }
    const container = this.containers.get(event.actorId) ?? (await this.inspect(docker, event.actorId), this.containers.get(event.actorId));
    const details: ExecDetails = { command: fromEvent };
    let plainCommand = fromEvent;
    if (execId) {
      try {
        const info = (await docker.getExec(execId).inspect()) as { ProcessConfig?: { entrypoint?: string; arguments?: string[]; user?: string; privileged?: boolean } };
        const pc = info.ProcessConfig ?? {};
        if (pc.entrypoint) {
          details.command = [pc.entrypoint, ...(pc.arguments ?? [])].map(quoteArg).join(' ');
          plainCommand = [pc.entrypoint, ...(pc.arguments ?? [])].join(' ');
        }
        if (pc.user) {
          details.user = pc.user;
          details.userSource = 'exec';
        }
        details.privileged = pc.privileged === true;
      } catch (error) {
        // Gone with its container, or daemon down: the event's own command is still reported.
        this.ctx.log.debug(`inspect of exec ${execId.slice(0, 12)} failed: ${(error as Error).message}`);
      }
    }
    if (!details.user && container) {
      details.user = container.user || 'root';
      details.userSource = container.user ? 'container' : 'default';
    }
    if (container?.healthCheck !== undefined && plainCommand === container.healthCheck) details.healthCheck = true;
    if (execId && event.action !== 'exec_die') this.execs.set(execId, details);
    return details;
  }
}

export const containerRuntimeSource: SourceDefinition = {
  name: 'ContainerRuntime',
  description: 'container inventory with runtime risk findings, and container lifecycle, exec and image activity from the Docker events stream',
  events: [CONTAINER_INVENTORY, CONTAINER_ACTIVITY],
  settings: SETTINGS,
  async start(ctx: SourceContext): Promise<Source> {
    const dockerHost = resolveDockerHost(ctx.config.string('dockerHost'));
    try {
      parseDockerHost(dockerHost);
    } catch (error) {
      if (error instanceof DockerHostError) throw new SourceUnavailableError(`dockerHost setting: ${error.message}`);
      throw error;
    }
    const source = new ContainerRuntime(ctx, dockerHost);
    source.start();
    return source;
  },
};
