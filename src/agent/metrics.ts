import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getLogger, type Logger } from '../core/logger';
import { iotEdgeLabels, PrometheusMetrics, type AgentMetrics, type IotEdgeLabels } from './prometheus';

export type { AgentMetrics } from './prometheus';

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
  private readonly metrics: PrometheusMetrics;

  constructor(
    collect: () => AgentMetrics,
    private readonly log?: Logger,
    labels: IotEdgeLabels = iotEdgeLabels(),
  ) {
    this.metrics = new PrometheusMetrics(collect, labels);
  }

  async listen(address: string): Promise<AddressInfo> {
    const { host, port } = parseListenAddress(address);
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.metrics.render().then(
        (body) => res.writeHead(200, { 'Content-Type': this.metrics.contentType }).end(body),
        (error: unknown) => {
          // The scraper learns only that it failed; the reason (internal state, paths) goes to the log.
          this.log?.warn('metrics could not be collected', { error: error instanceof Error ? error.message : String(error) });
          res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics unavailable\n');
        },
      );
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
