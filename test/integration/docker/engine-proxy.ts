import http from 'node:http';
import type { Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { testDockerSocket } from '../../harness/docker';

/**
 * An HTTP relay on a unix socket in front of the real Docker daemon, for tests: it can drop every
 * connection and refuse new ones (a socket hiccup), then come back; and it can insert raw lines
 * into the /events responses passing through (what a broken daemon or transport would deliver).
 */
export class EngineProxy {
  private server?: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly eventResponses = new Set<http.ServerResponse>();

  constructor(
    readonly socketPath: string,
    private readonly upstream = testDockerSocket(),
  ) {}

  async open(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    const server = http.createServer((req, res) => this.relay(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, resolve);
    });
    this.server = server;
  }

  /** Drop every connection and stop listening: clients see their streams end and connects fail. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.eventResponses.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }

  /** Writes `text` as is into every /events response in flight. */
  inject(text: string): number {
    for (const res of this.eventResponses) res.write(text);
    return this.eventResponses.size;
  }

  private relay(req: http.IncomingMessage, res: http.ServerResponse): void {
    const upstream = http.request({ socketPath: this.upstream, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      if (/\/events(\?|$)/.test(req.url ?? '')) {
        res.flushHeaders();
        this.eventResponses.add(res);
        res.on('close', () => this.eventResponses.delete(res));
        // Flush each chunk at once: the client must see events as they come.
        up.on('data', (chunk: Buffer) => res.write(chunk));
        up.on('end', () => res.end());
      } else {
        up.pipe(res);
      }
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  }
}
