import path from 'node:path';
import type { ConfigView } from '../config/config-view';
import { systemClock, type Clock } from '../core/clock';
import type { EmitOptions, SecurityEvent } from '../core/event';
import { isPriority, type Priority } from '../core/priority';
import { getLogger, type Logger } from '../core/logger';
import { RateLimitedLog } from '../core/rate-limited-log';
import { journalWindowStore, StateJournal } from './journal/state-journal';
import { PriorityQueues, QUEUE_NAMES } from './queues/priority-queues';
import { envelope, maxEventBytes, serializeForQueue, type Envelope } from './codec/message-builder';
import type { MessagePriority } from '../core/priority';
import { aggregationRules, Aggregator, HIT_CHECKPOINT_MS } from './aggregation/aggregator';
import { redactEventSecrets } from './redaction/event-redaction';
import { NO_DETECTIONS, type DetectionStage } from './detections-slot';
import { OperationalStats } from './operational-stats';
import { Sender } from './sender';
import { Ticker } from './ticker';
import type { EventPipeline, PipelineOptions, PipelineStats } from './types';

export { RETRY_BASE_MS, RETRY_MAX_MS, SEND_TIMEOUT_MS } from './sender';
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;
const WARN_EVERY_MS = 60_000;

/** stats() returns these too, beyond the EventPipeline contract. */
export interface DetailedPipelineStats extends PipelineStats {
  /** Raw events discarded because their type's priority is Off. */
  filtered: number;
  /** Payload items larger than a whole message, left out of their event (each logged). */
  oversizeDropped: number;
  /** ingest() calls that failed (caught and logged). */
  ingestErrors: number;
  /** Events on which the detections stage threw (the event itself went on). */
  detectionErrors: number;
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

function safeName(event: unknown): string {
  return event !== null && typeof event === 'object' && typeof (event as { Name?: unknown }).Name === 'string' ? (event as { Name: string }).Name : '?';
}

class Pipeline implements EventPipeline {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly journal: StateJournal;
  private readonly queues: PriorityQueues;
  private readonly aggregator: Aggregator;
  private readonly sender: Sender;
  private readonly opStats: OperationalStats;
  private readonly priorities = new Map<string, Priority>();
  private readonly eventTypeNames: readonly string[];
  private readonly detections: DetectionStage;
  private detectionErrors = 0;
  private redactSecrets = true;
  private readonly tickers: { high: Ticker; low: Ticker; stats: Ticker; checkpoint: Ticker };
  private readonly env: Envelope;
  private readonly recoveredHits: number;
  private config!: ConfigView;
  private settings!: Settings;
  private eventLimit = 0;

  private started = false;
  private closing = false;
  private closed = false;

  private ingested = 0;
  private filtered = 0;
  private oversizeDropped = 0;
  private ingestErrors = 0;
  private readonly warnings: RateLimitedLog;

  constructor(options: PipelineOptions, config: ConfigView) {
    this.log = options.log ?? getLogger('pipeline');
    this.clock = options.clock ?? systemClock;
    this.eventTypeNames = options.eventTypes.map((t) => t.name);
    this.detections = options.detections ? options.detections((e, o) => this.raised(e, o)) : NO_DETECTIONS;
    this.warnings = new RateLimitedLog(this.log, WARN_EVERY_MS, () => this.clock.now());
    this.env = envelope({ agentId: options.agentId, agentVersion: options.agentVersion });
    const settings = readSettings(config);
    this.journal = new StateJournal({ dir: path.join(options.stateDir, 'queues'), clock: this.clock, log: this.log, lockHeld: options.stateLockHeld });
    this.queues = new PriorityQueues({ journal: this.journal, cacheBytes: settings.cacheBytes, clock: this.clock, log: this.log });
    this.aggregator = new Aggregator({
      clock: this.clock,
      rules: aggregationRules(options.eventTypes),
      emit: (e) => this.route(e, false),
      log: this.log,
      store: journalWindowStore(this.journal, () => this.aggregator.persisted()),
    });
    this.sender = new Sender({
      queues: this.queues,
      transport: options.transport,
      clock: this.clock,
      onOversize: (name, items) => this.countOversize(name, items),
      warn: (key, message, details) => this.warnSometimes(key, message, details),
    });
    this.opStats = new OperationalStats(this.queues, () => {
      const s = this.sender.stats();
      return { messagesSent: s.messages, messagesUnder4KB: s.under4KB, failedSends: s.failed };
    });
    this.tickers = {
      high: new Ticker(this.clock, () => this.sender.request('High')),
      low: new Ticker(this.clock, () => this.onLowTick()),
      stats: new Ticker(this.clock, () => this.reportStatistics()),
      checkpoint: new Ticker(this.clock, () => this.aggregator.checkpoint()),
    };
    this.applySettings(config, settings);
    this.recoveredHits = this.aggregator.restore(this.journal.recovered.windows);
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
      const redacted = this.redactSecrets ? redactEventSecrets(event) : event;
      this.detect(redacted);
      this.route(redacted, options?.urgent === true, true);
    } catch (err) {
      this.ingestErrors++;
      this.warnSometimes('ingest', 'event could not be queued', { name: safeName(event), error: err });
    }
  }

  /** The detections stage: its failures are counted and logged, never lose the event. */
  private detect(event: SecurityEvent): void {
    try {
      this.detections(event);
    } catch (err) {
      this.detectionErrors++;
      this.warnSometimes('detections', 'detections stage failed on an event; the event goes on', { name: safeName(event), error: err });
    }
  }

  /** An event raised by the detections stage enters the chain after it. */
  private raised(event: SecurityEvent, options?: EmitOptions): void {
    try {
      if (this.closed) throw new Error('pipeline closed');
      // Structural redaction covers every event before it is queued, raised ones too.
      const urgent = options?.urgent === true;
      this.route(this.redactSecrets ? redactEventSecrets(event) : event, urgent, true);
      // An urgent raised event (an alert) goes upstream now, whatever highPriorityMessageFrequency says.
      if (urgent && this.started && !this.closing) this.sender.request('High');
    } catch (err) {
      this.ingestErrors++;
      this.warnSometimes('ingest', 'event could not be queued', { name: safeName(event), error: err });
    }
  }

  start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    this.tickers.high.start(this.settings.highMs);
    this.tickers.low.start(this.settings.lowMs);
    this.tickers.stats.start(this.settings.snapshotMs);
    this.tickers.checkpoint.start(HIT_CHECKPOINT_MS);
    for (const q of QUEUE_NAMES) this.checkFull(q);
    this.sender.start();
  }

  resume(): void {
    this.sender.retryNow();
  }

  async flush(): Promise<void> {
    this.aggregator.closeAll();
    await this.sender.sendAll();
    this.journal.flush();
  }

  async close(timeoutMs: number = DEFAULT_CLOSE_TIMEOUT_MS): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const t of Object.values(this.tickers)) t.stop();
    this.sender.stop();
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
    this.sender.halt();
    this.queues.close();
    this.journal.close();
    const left = QUEUE_NAMES.reduce((n, q) => n + this.queues.length(q), 0);
    if (left > 0) this.log.info('events kept in the queue journal for the next start', { events: left });
  }

  stats(): DetailedPipelineStats {
    const figures = (q: MessagePriority) => ({ events: this.queues.length(q), bytes: this.queues.bytes(q) });
    const sent = this.sender.stats();
    const stats: DetailedPipelineStats = {
      queued: { High: figures('High'), Low: figures('Low'), Operational: figures('Operational') },
      dropped: { High: this.queues.droppedCount('High'), Low: this.queues.droppedCount('Low'), Operational: this.queues.droppedCount('Operational') },
      sent: { messages: sent.messages, events: sent.events, bytes: sent.bytes },
      ingested: this.ingested,
      filtered: this.filtered,
      oversizeDropped: this.oversizeDropped,
      ingestErrors: this.ingestErrors,
      detectionErrors: this.detectionErrors,
      failedSends: sent.failed,
      aggregating: this.aggregator.stats().pendingHits,
      recovered: this.queues.recovered.events,
      recoveredHits: this.recoveredHits,
      persistence: this.journal.health(),
    };
    if (sent.lastError !== undefined) stats.lastSendError = sent.lastError;
    return stats;
  }

  private applySettings(config: ConfigView, s: Settings): void {
    if (!(s.highMs > 0 && s.lowMs > 0 && s.snapshotMs > 0 && s.cacheBytes > 0 && s.maxMessageBytes > this.env.bytes)) {
      throw new Error('frequencies, cache size and message size must be positive');
    }
    this.config = config;
    this.settings = s;
    this.redactSecrets = config.boolean('redactCommandLineSecrets');
    this.priorities.clear();
    // Read at once, so a changed priority applies from this configuration on (and is seen to).
    for (const name of this.eventTypeNames) this.priorityOf(name);
    this.eventLimit = maxEventBytes(this.env, s.maxMessageBytes);
    this.sender.setLimits({ envelope: this.env, maxMessageBytes: s.maxMessageBytes, eventLimit: this.eventLimit });
    this.queues.setCacheSize(s.cacheBytes);
    this.aggregator.configure(config);
    this.tickers.high.setPeriod(s.highMs);
    this.tickers.low.setPeriod(s.lowMs);
    this.tickers.stats.setPeriod(s.snapshotMs);
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

  /** Off → filtered; urgent → High; Operational events → Operational queue; aggregatable → aggregator. */
  private route(event: SecurityEvent, urgent: boolean, raw = false): void {
    const priority = this.priorityOf(event.Name);
    if (priority === 'Off') {
      this.filtered++;
      return;
    }
    if (raw && !urgent && this.aggregator.ingest(event)) return;
    const queue: MessagePriority = event.EventType === 'Operational' ? 'Operational' : urgent ? 'High' : priority;
    const { parts, droppedItems } = serializeForQueue(event, this.eventLimit);
    if (droppedItems > 0) this.countOversize(event.Name, droppedItems);
    for (const json of parts) this.queues.push(queue, json);
    this.checkFull(queue);
  }

  /** A queue holding a full message is sent at once. */
  private checkFull(queue: MessagePriority): void {
    const n = this.queues.length(queue);
    if (n > 0 && this.queues.bytes(queue) + n - 1 >= this.eventLimit) this.sender.request(queue);
  }

  private onLowTick(): void {
    if (this.opStats.hasActivity()) this.reportStatistics();
    this.sender.request('Low');
  }

  private reportStatistics(): void {
    try {
      for (const e of this.opStats.report(new Date(this.clock.now()))) {
        // The detections stage judges the statistics too (messages under 4 KB).
        if (e.Name === 'MessageStatistics') this.detect(e);
        this.route(e, false);
      }
    } catch (err) {
      this.warnSometimes('stats', 'operational statistics not produced', { error: err });
    }
  }

  private countOversize(name: string, items: number): void {
    this.oversizeDropped += items;
    this.warnSometimes(`oversize:${name}`, 'payload item larger than a whole message left out (maxMessageSizeInBytes)', {
      name,
      items,
      maxMessageSizeInBytes: this.settings.maxMessageBytes,
    });
  }

  private warnSometimes(key: string, message: string, details: Record<string, unknown>): void {
    this.warnings.warn(key, message, details);
  }
}

/**
 * Opens the pipeline: recovers the queues and open aggregation windows from `<stateDir>/queues`, applies
 * `config`. Call start() to begin sending; ingest() may be called before (events just queue).
 */
export async function openPipeline(options: PipelineOptions, config: ConfigView): Promise<EventPipeline> {
  return new Pipeline(options, config);
}
