import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export interface RecordedWorkloadRequest {
  readonly method: string;
  readonly url: string;
  readonly body: string;
  readonly status: number;
}

export interface WorkloadStandInOptions {
  /** PEM returned by /trust-bundle (the edgeHub stand-in's CA). */
  readonly trustBundle: string;
  /** Base64 module key the sign endpoint signs with. */
  readonly moduleKey: string;
  readonly moduleId: string;
  readonly generationId?: string;
}

const API_VERSION = '2018-06-28';

/**
 * The IoT Edge workload API as `ModuleClient.fromEnvironment` uses it: plain HTTP on a unix socket,
 * `GET /trust-bundle` and `POST /modules/<m>/genid/<g>/sign`, both at api-version 2018-06-28.
 */
export class WorkloadStandIn {
  readonly socketPath: string;
  readonly generationId: string;
  readonly requests: RecordedWorkloadRequest[] = [];
  private readonly dir: string;

  private constructor(
    private readonly options: WorkloadStandInOptions,
    private readonly server: http.Server,
    dir: string,
  ) {
    this.dir = dir;
    this.socketPath = path.join(dir, 'workload.sock');
    this.generationId = options.generationId ?? 'gen-1';
  }

  static async start(options: WorkloadStandInOptions): Promise<WorkloadStandIn> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-workload-'));
    const server = http.createServer();
    const standIn = new WorkloadStandIn(options, server, dir);
    server.on('request', (req, res) => standIn.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(standIn.socketPath, resolve);
    });
    return standIn;
  }

  /** The production variables IoT Edge sets for a module (`IOTEDGE_GATEWAYHOSTNAME` points at edgeHub). */
  environment(edgeHub: { hubName: string; deviceId: string; moduleId: string; port: number }): Record<string, string> {
    return {
      IOTEDGE_WORKLOADURI: `unix://${this.socketPath}`,
      IOTEDGE_DEVICEID: edgeHub.deviceId,
      IOTEDGE_MODULEID: edgeHub.moduleId,
      IOTEDGE_MODULEGENERATIONID: this.generationId,
      IOTEDGE_IOTHUBHOSTNAME: edgeHub.hubName,
      IOTEDGE_AUTHSCHEME: 'sasToken',
      IOTEDGE_GATEWAYHOSTNAME: `localhost:${edgeHub.port}`,
    };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const { status, answer } = this.answer(req.method ?? '', req.url ?? '', body);
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', body, status });
      const text = JSON.stringify(answer);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    });
  }

  private answer(method: string, url: string, body: string): { status: number; answer: unknown } {
    const parsed = new URL(url, 'http://workload');
    if (parsed.searchParams.get('api-version') !== API_VERSION) return { status: 400, answer: { message: 'unsupported api-version' } };
    if (method === 'GET' && parsed.pathname === '/trust-bundle') return { status: 200, answer: { certificate: this.options.trustBundle } };
    const sign = /^\/modules\/([^/]+)\/genid\/([^/]+)\/sign$/.exec(parsed.pathname);
    if (method === 'POST' && sign) {
      if (decodeURIComponent(sign[1]) !== this.options.moduleId || decodeURIComponent(sign[2]) !== this.generationId) {
        return { status: 404, answer: { message: 'unknown module or generation' } };
      }
      let request: { keyId?: unknown; algo?: unknown; data?: unknown };
      try {
        request = JSON.parse(body) as typeof request;
      } catch {
        return { status: 400, answer: { message: 'body is not JSON' } };
      }
      if (request.algo !== 'HMACSHA256' || typeof request.data !== 'string') return { status: 400, answer: { message: 'bad sign request' } };
      const digest = createHmac('sha256', Buffer.from(this.options.moduleKey, 'base64')).update(Buffer.from(request.data, 'base64')).digest('base64');
      return { status: 200, answer: { digest } };
    }
    return { status: 404, answer: { message: 'not found' } };
  }
}
