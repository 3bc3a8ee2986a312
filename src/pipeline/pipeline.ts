import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { ConfigView } from '../config/config-view';
import { isPriority } from '../config/settings';
import type { SecurityEvent } from '../core/event';
import type { Priority } from '../core/event-types';
import { getLogger, type Logger } from '../core/logger';
import { PriorityQueues, QUEUE_NAMES } from '../buffers/priority-queues';
import type { EmitOptions } from '../sources/source';
import { buildMessage, envelope, maxEventBytes, serializeForQueue, splitOversizeEvent, type BuiltMessage, type Envelope } from '../sinks/message-builder';
import type { MessagePriority, Transport } from '../sinks/transport';
import { Aggregator, HIT_CHECKPOINT_MS } from '../transforms/aggregator';
import { systemClock } from './clock';
import { OperationalStats } from './operational-stats';
import { Ticker } from './ticker';
import type { Clock, EventPipeline, PipelineOptions, PipelineStats } from './types';

/** First retry after a rejected send; doubles per failure up to RETRY_MAX_MS. */
export const RETRY_BASE_MS = 1_000;
export const RETRY_MAX_MS = 60_000;
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;
/** A send neither accepted nor rejected by then counts as failed (events stay queued; a late accept means a duplicate). */
export const SEND_TIMEOUT_MS = 120_000;
const BILLING_UNIT_BYTES = 4096;
const WARN_EVERY_MS = 60_000;

/** stats() returns these too, beyond the EventPipeline contract. */
export interface DetailedPipelineStats extends PipelineStats {
  /** Raw events discarded because their type's priority is Off. */
  filtered: number;
  /** Payload items larger than a whole message, left out of their event (each logged). */
  oversizeDropped: number;
  /** ingest() calls that failed (caught and logged). */
  ingestErrors: number;
  failedSends: number;
  /** Raw payload items waiting in open aggregation windows. */
  aggregating: number;
  /** Events read back from the journal at open. */
  recovered: number;
  /** Raw hits of open aggregation windows read back from the journal at open. */
  recoveredHits: number;
}

interface Settings {
  highMs: number;
  lowMs: number;
  snapshotMs: number;
  cacheBytes: number;
  maxMessageBytes: number;
}

function readSettings(config: ConfigView): Settings {
  return {
    highMs: config.durationMs('highPriorityMessageFrequency'),
    lowMs: config.durationMs('lowPriorityMessageFrequency'),
    snapshotMs: config.durationMs('snapshotFrequency'),
    cacheBytes: config.integer('maxLocalCacheSizeInBytes'),
    maxMessageBytes: config.integer('maxMessageSizeInBytes'),
  };
}

class Pipeline implements EventPipeline {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly transport: Transport;
  private readonly queues: PriorityQueues;
  private readonly aggregator: Aggregator;
  private readonly opStats: OperationalStats;
  private readonly priorities = new Map<string, Priority>();
  private readonly highTicker: Ticker;
  private readonly lowTicker: Ticker;
  private readonly statsTicker: Ticker;
  private readonly checkpointTicker: Ticker;
  private readonly recoveredHits: number;
  private config!: ConfigView;
  private settings!: Settings;
  private env: Envelope;
  private eventLimit = 0;

  private started = false;
  private closing = false;
  private closed = false;
  private readonly wanted = new Set<MessagePriority>();
  private draining: Promise<void> | undefined;
  private kickHandle: unknown;
  private retryHandle: unknown;
  private consecutiveFailures = 0;

  private ingested = 0;
  private filtered = 0;
  private oversizeDropped = 0;
  private ingestErrors = 0;
  private failedSends = 0;
  private sent = { messages: 0, events: 0, bytes: 0, under4KB: 0 };
  private lastSendError: string | undefined;
  private lastWarning = new Map<string, number>();

  constructor(options: PipelineOptions, config: ConfigView) {
    this.log = options.log ?? getLogger('pipeline');
    this.clock = options.clock ?? systemClock;
    this.transport = options.transport;
    this.env = envelope({ agentId: options.agentId, agentVersion: options.agentVersion });
    const settings = readSettings(config);
    this.queues = new PriorityQueues({ dir: path.join(options.stateDir, 'queues'), cacheBytes: settings.cacheBytes, clock: this.clock, log: this.log });
    this.aggregator = new Aggregator({
      clock: this.clock,
      emit: (e) => this.route(e, false),
      log: this.log,
      journal: this.queues.windowJournal(() => this.aggregator.persisted()),
    });
    this.opStats = new OperationalStats(this.queues, () => ({
      messagesSent: this.sent.messages,
      messagesUnder4KB: this.sent.under4KB,
      failedSends: this.failedSends,
    }));
    this.highTicker = new Ticker(this.clock, () => this.requestSend('High'));
    this.lowTicker = new Ticker(this.clock, () => this.onLowTick());
    this.statsTicker = new Ticker(this.clock, () => this.reportStatistics());
    this.checkpointTicker = new Ticker(this.clock, () => this.aggregator.checkpoint());
    this.applySettings(config, settings);
    this.recoveredHits = this.aggregator.restore(this.queues.recoveredWindows);
    if (this.recoveredHits > 0) this.log.info('open aggregation windows recovered from the journal', { hits: this.recoveredHits });
  }

  applyConfig(config: ConfigView): void {
    try {
      this.applySettings(config, readSettings(config));
    } catch (err) {
      this.log.warn('pipeline configuration not applied; keeping the previous one', { error: err });
    }
  }

  ingest(event: SecurityEvent, options?: EmitOptions): void {
    try {
      this.ingested++;
      if (this.closed) throw new Error('pipeline closed: stop the sources before closing it');
      this.route(event, options?.urgent === true, true);
    } catch (err) {
      this.ingestErrors++;
      this.warnSometimes('ingest', 'event could not be queued', { name: safeName(event), error: err });
    }
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.highTicker.start(this.settings.highMs);
    this.lowTicker.start(this.settings.lowMs);
    this.statsTicker.start(this.settings.snapshotMs);
    this.checkpointTicker.start(HIT_CHECKPOINT_MS);
    for (const q of QUEUE_NAMES) this.checkFull(q);
    if (this.wanted.size > 0) this.kick();
  }

  async flush(): Promise<void> {
    this.aggregator.closeAll();
    for (const q of QUEUE_NAMES) this.wanted.add(q);
    await this.drain();
    this.queues.flushJournal();
  }

  async close(timeoutMs: number = DEFAULT_CLOSE_TIMEOUT_MS): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    this.highTicker.stop();
    this.lowTicker.stop();
    this.statsTicker.stop();
    this.checkpointTicker.stop();
    this.clearTimer('kickHandle');
    this.clearTimer('retryHandle');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      // A real timer: close() must end even when a test's fake clock never advances.
      timer = setTimeout(resolve, timeoutMs);
    });
    try {
      await Promise.race([this.flush(), timeout]);
    } catch (err) {
      this.log.warn('flush before close failed', { error: err });
    } finally {
      clearTimeout(timer);
    }
    this.closed = true;
    this.queues.close();
    const left = QUEUE_NAMES.reduce((n, q) => n + this.queues.length(q), 0);
    if (left > 0) this.log.info('events kept in the queue journal for the next start', { events: left });
  }

  stats(): DetailedPipelineStats {
    const figures = (q: MessagePriority) => ({ events: this.queues.length(q), bytes: this.queues.bytes(q) });
    const stats: DetailedPipelineStats = {
      queued: { High: figures('High'), Low: figures('Low'), Operational: figures('Operational') },
      dropped: { High: this.queues.droppedCount('High'), Low: this.queues.droppedCount('Low'), Operational: this.queues.droppedCount('Operational') },
      sent: { messages: this.sent.messages, events: this.sent.events, bytes: this.sent.bytes },
      ingested: this.ingested,
      filtered: this.filtered,
      oversizeDropped: this.oversizeDropped,
      ingestErrors: this.ingestErrors,
      failedSends: this.failedSends,
      aggregating: this.aggregator.stats().pendingHits,
      recovered: this.queues.recovered.events,
      recoveredHits: this.recoveredHits,
    };
    if (this.lastSendError !== undefined) stats.lastSendError = this.lastSendError;
    return stats;
  }

  // --- configuration ---------------------------------------------------------------------------

  private applySettings(config: ConfigView, s: Settings): void {
    if (!(s.highMs > 0 && s.lowMs > 0 && s.snapshotMs > 0 && s.cacheBytes > 0 && s.maxMessageBytes > this.env.bytes)) {
      throw new Error('frequencies, cache size and message size must be positive');
    }
    this.config = config;
    this.settings = s;
    this.priorities.clear();
    this.eventLimit = maxEventBytes(this.env, s.maxMessageBytes);
    this.queues.setCacheSize(s.cacheBytes);
    this.aggregator.configure(config);
    this.highTicker.setPeriod(s.highMs);
    this.lowTicker.setPeriod(s.lowMs);
    this.statsTicker.setPeriod(s.snapshotMs);
    for (const q of QUEUE_NAMES) this.checkFull(q);
  }

  private priorityOf(name: string): Priority {
    let p = this.priorities.get(name);
    if (p === undefined) {
      const configured: unknown = this.config.priority(name);
      if (isPriority(configured)) p = configured;
      else {
        // The twin validation should never let this through; Low keeps the events rather than losing them.
        p = 'Low';
        this.log.warn('unknown priority for an event type, using Low', { name, priority: String(configured) });
      }
      this.priorities.set(name, p);
    }
    return p;
  }

  // --- events in -------------------------------------------------------------------------------

  /** Off → filtered; urgent → High; Operational events → Operational queue; aggregatable → aggregator. */
  private route(event: SecurityEvent, urgent: boolean, raw = false): void {
    const priority = this.priorityOf(event.Name);
    if (priority === 'Off') {
      this.filtered++;
      return;
    }
    if (raw && !urgent && this.aggregator.ingest(event)) return;
    const queue: MessagePriority = event.EventType === 'Operational' ? 'Operational' : urgent ? 'High' : priority;
    this.enqueue(queue, event);
  }

  private enqueue(queue: MessagePriority, event: SecurityEvent): void {
    const { parts, droppedItems } = serializeForQueue(event, this.eventLimit);
    if (droppedItems > 0) this.countOversize(event.Name, droppedItems);
    for (const json of parts) this.queues.push(queue, json);
    this.checkFull(queue);
  }

  private countOversize(name: string, items: number): void {
    this.oversizeDropped += items;
    this.warnSometimes(`oversize:${name}`, 'payload item larger than a whole message left out (maxMessageSizeInBytes)', {
      name,
      items,
      maxMessageSizeInBytes: this.settings.maxMessageBytes,
    });
  }

  /** A queue holding a full message is sent at once. */
  private checkFull(queue: MessagePriority): void {
    const n = this.queues.length(queue);
    if (n > 0 && this.queues.bytes(queue) + n - 1 >= this.eventLimit) this.requestSend(queue);
  }

  // --- timers ----------------------------------------------------------------------------------

  private onLowTick(): void {
    if (this.opStats.hasActivity()) this.reportStatistics();
    this.requestSend('Low');
  }

  private reportStatistics(): void {
    try {
      for (const e of this.opStats.report(new Date(this.clock.now()))) this.route(e, false);
    } catch (err) {
      this.warnSometimes('stats', 'operational statistics not produced', { error: err });
    }
  }

  private requestSend(queue: MessagePriority): void {
    this.wanted.add(queue);
    if (!this.started || this.closed || this.retryHandle !== undefined || this.draining !== undefined) return;
    this.kick();
  }

  private kick(): void {
    if (this.kickHandle !== undefined) return;
    this.kickHandle = this.clock.setTimeout(() => {
      this.kickHandle = undefined;
      void this.drain();
    }, 0);
  }

  private clearTimer(which: 'kickHandle' | 'retryHandle'): void {
    const h = this[which];
    if (h !== undefined) this.clock.clearTimeout(h);
    this[which] = undefined;
  }

  // --- sending ---------------------------------------------------------------------------------

  /** Sends what `wanted` asks for, one message at a time; a rejection schedules a retry with backoff. */
  private async drain(): Promise<void> {
    while (this.draining !== undefined) await this.draining;
    const run = this.sendWanted();
    this.draining = run;
    try {
      await run;
    } finally {
      this.draining = undefined;
    }
    // Requests that came in while this drain was sending its last message.
    if (this.wanted.size > 0 && this.retryHandle === undefined && this.started && !this.closing) this.kick();
  }

  private async sendWanted(): Promise<void> {
    for (const q of ['High', 'Operational', 'Low'] as const) {
      if (!this.wanted.has(q)) continue;
      this.wanted.delete(q);
      const ok = await this.sendQueue(q);
      if (!ok) {
        this.wanted.add(q);
        this.scheduleRetry();
        return;
      }
    }
  }

  private hasOwnEvents(queue: MessagePriority): boolean {
    if (queue === 'High') return this.queues.length('High') > 0;
    if (queue === 'Operational') return this.queues.length('Operational') > 0;
    return this.queues.length('Low') > 0 || this.queues.length('Operational') > 0;
  }

  /** Messages for `queue` until it (and the Operational queue, which rides along) is empty; false on a rejection. */
  private async sendQueue(queue: MessagePriority): Promise<boolean> {
    const order: readonly MessagePriority[] =
      queue === 'Operational' ? ['Operational', 'High', 'Low'] : ['Operational', queue, queue === 'High' ? 'Low' : 'High'];
    while (!this.closed && this.hasOwnEvents(queue)) {
      for (const q of order) this.fitHead(q);
      const message = buildMessage(this.queues, order, this.env, this.settings.maxMessageBytes);
      if (message === undefined) return true;
      if (!(await this.sendOne(queue, message))) return false;
    }
    return true;
  }

  /** Makes the head of `queue` fit a message alone (after maxMessageSizeInBytes shrank): split, or drop what cannot. */
  private fitHead(queue: MessagePriority): void {
    for (let head = this.queues.at(queue, 0); head !== undefined && head.bytes > this.eventLimit; head = this.queues.at(queue, 0)) {
      let event: SecurityEvent;
      try {
        event = JSON.parse(head.json) as SecurityEvent;
      } catch {
        this.queues.replaceHead(queue, []);
        this.countOversize('(unreadable)', 1);
        continue;
      }
      const { parts, droppedItems } = splitOversizeEvent(event, this.eventLimit);
      if (droppedItems > 0) this.countOversize(event.Name, droppedItems);
      this.queues.replaceHead(queue, parts);
    }
  }

  private async sendOne(queue: MessagePriority, message: BuiltMessage): Promise<boolean> {
    let timer: unknown;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = this.clock.setTimeout(() => reject(new Error(`no answer from the ${this.transport.name} transport within ${SEND_TIMEOUT_MS / 1000} s`)), SEND_TIMEOUT_MS);
      });
      const sent = this.transport.send({ body: message.body, messageId: randomUUID(), priority: queue, eventCount: message.eventCount });
      sent.catch(() => undefined); // a rejection after the timeout has nobody left to handle it
      await Promise.race([sent, timeout]);
    } catch (err) {
      this.failedSends++;
      this.consecutiveFailures++;
      this.lastSendError = err instanceof Error ? err.message : String(err);
      this.warnSometimes('send', 'message not accepted; events stay queued', { transport: this.transport.name, error: this.lastSendError });
      return false;
    } finally {
      this.clock.clearTimeout(timer);
    }
    this.consecutiveFailures = 0;
    for (const q of QUEUE_NAMES) if (message.taken[q].length > 0) this.queues.ack(q, message.taken[q]);
    this.sent.messages++;
    this.sent.events += message.eventCount;
    this.sent.bytes += message.bytes;
    if (message.bytes < BILLING_UNIT_BYTES) this.sent.under4KB++;
    return true;
  }

  private scheduleRetry(): void {
    if (this.closing || this.retryHandle !== undefined) return;
    const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(16, Math.max(0, this.consecutiveFailures - 1)));
    this.retryHandle = this.clock.setTimeout(() => {
      this.retryHandle = undefined;
      void this.drain();
    }, delay);
  }

  private warnSometimes(key: string, message: string, details: Record<string, unknown>): void {
    const now = this.clock.now();
    const last = this.lastWarning.get(key);
    if (last !== undefined && now - last < WARN_EVERY_MS) return;
    this.lastWarning.set(key, now);
    this.log.warn(message, details);
  }
}

function safeName(event: unknown): string {
  return event !== null && typeof event === 'object' && typeof (event as { Name?: unknown }).Name === 'string' ? (event as { Name: string }).Name : '?';
}

/**
 * Opens the pipeline: recovers the queues from `<stateDir>/queues`, applies `config`. Call start() to
 * begin sending; ingest() may be called before.
 */
export async function openPipeline(options: PipelineOptions, config: ConfigView): Promise<EventPipeline> {
  return new Pipeline(options, config);
}
