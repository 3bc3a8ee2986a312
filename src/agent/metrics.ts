import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getLogger } from '../core/logger';
import { iotEdgeLabels, PrometheusMetrics, type AgentMetrics, type IotEdgeLabels } from './prometheus';

export type { AgentMetrics } from './prometheus';

/** `host:port`, `:port` or `port`; the host defaults to 0.0.0.0 (metrics-collector scrapes from another container). */
export function parseListenAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) throw new Error(`metrics listen address "${text}" is not host:port, :port or port`);
  return { host: match[1] || '0.0.0.0', port };
}

/** GET /metrics over plain HTTP; anything else is 404. */
export class MetricsServer {
  private server?: http.Server;
  private readonly metrics: PrometheusMetrics;

  constructor(collect: () => AgentMetrics, labels: IotEdgeLabels = iotEdgeLabels()) {
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
        (error: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`metrics unavailable: ${(error as Error).message}\n`),
      );
    });
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
 * The Prometheus endpoint (GET /metrics) when EDGEGUARD_METRICS_LISTEN is set (`:9600`, `host:port`), for
 * IoT Edge's metrics-collector. A bad address or a busy port is logged; the agent runs without it.
 */
export async function startMetrics(env: NodeJS.ProcessEnv, collect: ConstructorParameters<typeof MetricsServer>[0]): Promise<MetricsServer | undefined> {
  const address = env.EDGEGUARD_METRICS_LISTEN?.trim();
  if (!address) return undefined;
  const log = getLogger('agent');
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
