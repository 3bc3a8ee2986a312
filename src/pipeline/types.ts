import type { ConfigView } from '../config/config-view';
import type { Clock } from '../core/clock';
import type { EmitOptions, SecurityEvent } from '../core/event';
import type { EventDescriptor } from '../core/event-types';
import type { Logger } from '../core/logger';
import type { DetectionStageFactory } from './detections-slot';
import type { MessagePriority } from '../core/priority';
import type { Transport } from '../core/transport';

export type { Clock } from '../core/clock';

export interface PipelineOptions {
  readonly agentId: string;
  readonly agentVersion: string;
  /** The event types of the registry: their aggregation keys, and the priorities read at each configuration. */
  readonly eventTypes: readonly EventDescriptor[];
  /** The queues' journal lives under `<stateDir>/queues`; events in it survive restarts. */
  readonly stateDir: string;
  /**
   * Whether this agent holds the state directory's lock: a journal that could not be created at start
   * is created later only then (two agents on one directory would corrupt each other's). Default: yes.
   */
  readonly stateLockHeld?: () => boolean;
  readonly transport: Transport;
  readonly log?: Logger;
  readonly clock?: Clock;
  /** The detections stage, between redaction and aggregation (detections-slot.ts); none by default. */
  readonly detections?: DetectionStageFactory;
}

export interface QueueFigures {
  events: number;
  bytes: number;
}

export interface PipelineStats {
  queued: Record<MessagePriority, QueueFigures>;
  /** Dropped by the byte budget since start, per queue. */
  dropped: Record<MessagePriority, number>;
  sent: { messages: number; events: number; bytes: number };
  /** Raw events that went in (before aggregation). */
  ingested: number;
  lastSendError?: string;
  /** The queue journal in the state directory: written or not (disk full, read-only), what was not persisted. */
  persistence?: { persisting: boolean; unpersistedRecords: number; writeFailures: number; lastError: string };
}

/**
 * Events in, messages out: aggregation → priority queues with a byte budget → message builder → transport.
 * Implemented by src/pipeline/pipeline.ts (`openPipeline(options, config)`).
 */
export interface EventPipeline {
  /** Live reconfiguration: priorities, frequencies, cache and message size, aggregation. */
  applyConfig(config: ConfigView): void;
  /** Synchronous and never throws; a source's emit() lands here. */
  ingest(event: SecurityEvent, options?: EmitOptions): void;
  /** Starts the send timers. */
  start(): void;
  /** The upstream (re)connected: sends what waits for a retry now instead of at the end of the backoff. */
  resume(): void;
  /** Closes aggregation windows and sends everything the transport accepts now. */
  flush(): Promise<void>;
  /** flush within `timeoutMs`, persist what is left, stop timers. */
  close(timeoutMs?: number): Promise<void>;
  stats(): PipelineStats;
}
