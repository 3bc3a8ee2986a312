import http from 'node:http';
import type { AddressInfo } from 'node:net';
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
