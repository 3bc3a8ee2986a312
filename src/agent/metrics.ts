import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getLogger, type Logger } from '../core/logger';
import type { PipelineStats } from '../pipeline/types';
import type { SourceStatus } from '../sources/source';

/** What the agent knows about itself at one moment, for the Prometheus endpoint. */
export interface AgentMetrics {
  readonly pipeline: PipelineStats;
  readonly sources: Readonly<Record<string, SourceStatus>>;
  readonly upstreamConnected: boolean;
  readonly configurationErrors: number;
}

const SOURCE_STATES: readonly SourceStatus['state'][] = ['running', 'degraded', 'failed', 'disabled'];

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Prometheus text exposition format (0.0.4), the format IoT Edge's metrics-collector scrapes. */
export function renderMetrics(m: AgentMetrics, processInfo = { rssBytes: process.memoryUsage().rss, cpuSeconds: cpuSeconds() }): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: Array<[Record<string, string>, number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const text = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
      lines.push(`${name}${text ? `{${text}}` : ''} ${Number.isFinite(value) ? value : 0}`);
    }
  };
  const queues = Object.keys(m.pipeline.queued) as Array<keyof PipelineStats['queued']>;
  metric('edgeguard_events_ingested_total', 'counter', 'Raw events handed to the pipeline by the sources.', [[{}, m.pipeline.ingested]]);
  metric('edgeguard_queue_events', 'gauge', 'Events waiting in each queue.', queues.map((q) => [{ queue: q }, m.pipeline.queued[q].events]));
  metric('edgeguard_queue_bytes', 'gauge', 'Bytes waiting in each queue.', queues.map((q) => [{ queue: q }, m.pipeline.queued[q].bytes]));
  metric('edgeguard_events_dropped_total', 'counter', 'Events dropped by the byte budget, per queue.', queues.map((q) => [{ queue: q }, m.pipeline.dropped[q]]));
  metric('edgeguard_messages_sent_total', 'counter', 'Security messages acknowledged upstream.', [[{}, m.pipeline.sent.messages]]);
  metric('edgeguard_events_sent_total', 'counter', 'Events inside acknowledged messages.', [[{}, m.pipeline.sent.events]]);
  metric('edgeguard_bytes_sent_total', 'counter', 'UTF-8 bytes of acknowledged messages.', [[{}, m.pipeline.sent.bytes]]);
  metric('edgeguard_upstream_connected', 'gauge', '1 when the upstream (edgeHub) connection is up.', [[{}, m.upstreamConnected ? 1 : 0]]);
  metric('edgeguard_configuration_errors', 'gauge', 'Settings currently rejected from the desired properties.', [[{}, m.configurationErrors]]);
  metric(
    'edgeguard_source_state',
    'gauge',
    'One series per source and state; 1 marks the current state.',
    Object.entries(m.sources).flatMap(([source, status]) => SOURCE_STATES.map((state): [Record<string, string>, number] => [{ source, state }, status.state === state ? 1 : 0])),
  );
  if (m.pipeline.persistence) {
    metric('edgeguard_journal_persisting', 'gauge', '1 while the queue journal is written to the state directory; 0 when it cannot be (disk full, read-only).', [[{}, m.pipeline.persistence.persisting ? 1 : 0]]);
    metric('edgeguard_journal_unpersisted_records_total', 'counter', 'Journal records that could not be written (kept in memory and sent, lost on a restart).', [[{}, m.pipeline.persistence.unpersistedRecords]]);
  }
  metric('edgeguard_process_resident_memory_bytes', 'gauge', 'Resident set size of the agent process.', [[{}, processInfo.rssBytes]]);
  metric('edgeguard_process_cpu_seconds_total', 'counter', 'User and system CPU time of the agent process.', [[{}, processInfo.cpuSeconds]]);
  return `${lines.join('\n')}\n`;
}

function cpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/**
 * `host:port`, `:port` or `port`. A bare port binds LOOPBACK only: EdgeGuard runs on the host network,
 * where 0.0.0.0 would be every host interface, unauthenticated. A wider address must be written out
 * (`0.0.0.0:9600`, `[::]:9600`, or better the one address metrics-collector uses, e.g. the
 * azure-iot-edge bridge's gateway `172.18.0.1:9600`).
 */
export function parseListenAddress(text: string): { host: string; port: number } {
  const trimmed = text.trim();
  const match = trimmed.length <= 64 ? /^(?:\[?([0-9A-Za-z.:%-]*)\]?:)?(\d{1,5})$/.exec(trimmed) : null;
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) throw new Error(`metrics listen address "${trimmed.slice(0, 64)}" is not host:port, :port or port`);
  return { host: match[1] || '127.0.0.1', port };
}

/** Whether the address answers beyond this machine's loopback (logged as a warning at start). */
export function isWideAddress(host: string): boolean {
  return !(host === 'localhost' || host === '::1' || host.startsWith('127.'));
}

/** GET /metrics over plain HTTP; anything else is 404. */
export class MetricsServer {
  private server?: http.Server;

  constructor(
    private readonly collect: () => AgentMetrics,
    private readonly log?: Logger,
  ) {}

  async listen(address: string): Promise<AddressInfo> {
    const { host, port } = parseListenAddress(address);
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      let body: string;
      try {
        body = renderMetrics(this.collect());
      } catch (error) {
        // The scraper learns only that it failed; the reason (internal state, paths) goes to the log.
        this.log?.warn('metrics could not be collected', { error: error instanceof Error ? error.message : String(error) });
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics unavailable\n');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
    });
    // A scraper sends one small GET: slow or crowded clients are cut off rather than held.
    server.requestTimeout = 5_000;
    server.headersTimeout = 5_000;
    server.keepAliveTimeout = 5_000;
    server.maxConnections = 16;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * The Prometheus endpoint (GET /metrics) when EDGEGUARD_METRICS_LISTEN is set (`:9600` = loopback, `host:port`), for
 * IoT Edge's metrics-collector. A bad address or a busy port is logged; the agent runs without it.
 */
export async function startMetrics(env: NodeJS.ProcessEnv, collect: ConstructorParameters<typeof MetricsServer>[0]): Promise<MetricsServer | undefined> {
  const address = env.EDGEGUARD_METRICS_LISTEN?.trim();
  if (!address) return undefined;
  const log = getLogger('agent');
  const server = new MetricsServer(collect, getLogger('metrics'));
  try {
    const bound = await server.listen(address);
    log.info('metrics endpoint listening', { address: `${bound.address}:${bound.port}`, path: '/metrics' });
    if (isWideAddress(bound.address)) log.warn('metrics endpoint reachable beyond loopback, without authentication', { address: bound.address });
    return server;
  } catch (error) {
    log.error('metrics endpoint not started', { address, error: error instanceof Error ? error.message : String(error) });
    return undefined;
  }
}
