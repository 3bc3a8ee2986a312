import type { IncomingMessage } from 'node:http';
import type { Logger } from '../../core/logger';
import { connectDocker, type DockerConnection } from './client';
import { EventCursor, formatSince, parseDockerEventLine, type DockerEvent } from './events';
import { NdjsonSplitter } from './ndjson';
import { errorText } from '../../core/error-text';

/** Longest wait for the daemon to answer GET /events (headers, not events). */
const RESPONSE_TIMEOUT_MS = 15_000;

export interface WatcherOptions {
  dockerHost: string;
  /** Event types the daemon is asked for (server-side filter). */
  types: readonly string[];
  minBackoffMs: number;
  maxBackoffMs: number;
  /** Longest events-stream line kept; longer ones are dropped with a warning. */
  maxLineBytes?: number;
  log: Logger;
  /** Each new event, in stream order; replays after a reconnect are already dropped. */
  onEvent(event: DockerEvent, connection: DockerConnection): void;
  /** Connected (connection) or down (reason, next retry in ms). */
  onState(state: { connected: true; connection: DockerConnection } | { connected: false; reason: string; retryInMs: number }): void;
}

export interface WatcherStats {
  connects: number;
  disconnects: number;
  events: number;
  duplicatesDropped: number;
  malformedLines: number;
  oversizedLines: number;
}


/**
 * Follows the Docker events stream for as long as it runs: connects (negotiating the API version),
 * reads NDJSON events, and when the daemon or the socket goes away retries with exponential
 * backoff, resuming with `since` so that nothing in the gap is lost and nothing is reported twice.
 * Never throws out of its loop.
 */
export class DockerEventWatcher {
  readonly stats: WatcherStats = { connects: 0, disconnects: 0, events: 0, duplicatesDropped: 0, malformedLines: 0, oversizedLines: 0 };
  private readonly cursor = new EventCursor();
  private stopped = false;
  private stream?: IncomingMessage;
  private sleepTimer?: NodeJS.Timeout;
  private wake?: () => void;
  private loop?: Promise<void>;
  private connection?: DockerConnection;

  constructor(private readonly options: WatcherOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** The current connection, when the stream is up. */
  current(): DockerConnection | undefined {
    return this.connection;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stream?.destroy();
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let backoff = this.options.minBackoffMs;
    while (!this.stopped) {
      let reason: string;
      try {
        const connection = await connectDocker({ dockerHost: this.options.dockerHost });
        if (this.stopped) break;
        const opened = await this.follow(connection, () => {
          backoff = this.options.minBackoffMs;
        });
        reason = opened.reason;
      } catch (error) {
        reason = `Docker daemon at ${this.options.dockerHost || 'the default socket'} not reachable: ${errorText(error)}`;
      }
      this.connection = undefined;
      if (this.stopped) break;
      this.stats.disconnects++;
      this.options.log.warn(`${reason}; retrying in ${backoff} ms`);
      this.safeState({ connected: false, reason, retryInMs: backoff });
      await this.sleep(backoff);
      backoff = Math.min(backoff * 2, this.options.maxBackoffMs);
    }
  }

  private safeState(state: Parameters<WatcherOptions['onState']>[0]): void {
    try {
      this.options.onState(state);
    } catch (error) {
      this.options.log.error(`Docker watcher state handler failed: ${errorText(error)}`);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
    });
  }

  /** Reads the events stream until it ends; resolves with why it ended. */
  private async follow(connection: DockerConnection, onOpen: () => void): Promise<{ reason: string }> {
    const since = this.cursor.since();
    const filters = JSON.stringify({ type: [...this.options.types] });
    // dockerode's getEvents types `since` as a number; the daemon takes "seconds.nanoseconds" text.
    const query: Record<string, unknown> = { filters };
    if (since !== undefined) query.since = since;
    // A daemon that accepts and never answers must not hold the watcher forever.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), RESPONSE_TIMEOUT_MS);
    query.abortSignal = abort.signal;
    let stream: IncomingMessage;
    try {
      stream = (await connection.streaming.getEvents(query as unknown as { since: number })) as unknown as IncomingMessage;
    } finally {
      clearTimeout(timer);
    }
    if (this.stopped) {
      stream.destroy();
      return { reason: 'stopped' };
    }
    this.stream = stream;
    this.connection = connection;
    this.cursor.opened(BigInt(Date.now()) * 1_000_000n);
    this.stats.connects++;
    onOpen();
    this.options.log.info(
      `following Docker events at ${connection.host} (engine ${connection.daemonVersion}, API ${connection.apiVersion})${since ? ` since ${since}` : ''}`,
    );
    this.safeState({ connected: true, connection });

    const splitter = new NdjsonSplitter(
      (line) => this.onLine(line, connection),
      (problem) => {
        this.stats.oversizedLines++;
        this.options.log.warn(`Docker event line of ${problem.bytes} bytes exceeds the limit: skipped`);
      },
      this.options.maxLineBytes,
    );
    return new Promise((resolve) => {
      let done = false;
      const finish = (reason: string) => {
        if (done) return;
        done = true;
        splitter.end();
        this.stream = undefined;
        resolve({ reason });
      };
      stream.on('data', (chunk: Buffer) => splitter.push(chunk));
      stream.on('end', () => finish(`Docker events stream from ${connection.host} ended (daemon stopped or restarted?)`));
      stream.on('error', (error) => finish(`Docker events stream from ${connection.host} failed: ${errorText(error)}`));
      stream.on('close', () => finish(`Docker events stream from ${connection.host} closed`));
    });
  }

  private onLine(line: string, connection: DockerConnection): void {
    const parsed = parseDockerEventLine(line);
    if (!parsed.ok) {
      this.stats.malformedLines++;
      // The line itself is not logged: labels in events can carry module environment values.
      this.options.log.warn(`malformed Docker event line (${line.length} characters) skipped: ${parsed.error}`);
      return;
    }
    if (!this.cursor.accept(parsed.event)) {
      this.stats.duplicatesDropped++;
      return;
    }
    this.stats.events++;
    try {
      this.options.onEvent(parsed.event, connection);
    } catch (error) {
      this.options.log.error(`Docker event handler failed on ${parsed.event.type} ${parsed.event.action}: ${errorText(error)}`);
    }
  }

  /** Where the next connection would resume (for diagnostics and tests). */
  resumePoint(): string | undefined {
    return this.cursor.since();
  }

  lastEventTime(): string | undefined {
    const t = this.cursor.lastTimeNano;
    return t === undefined ? undefined : formatSince(t);
  }
}
