import type { ConfigView } from '../config/config-view';
import type { SecurityEvent } from '../core/event';
import type { Logger } from '../core/logger';
import type { EmitOptions } from '../sources/source';
import type { MessagePriority, Transport } from '../sinks/transport';

/** Time as the pipeline sees it; unit tests pass a fake one. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The detections stage (src/detections/stage.ts): sees every raw event after redaction and before
 * aggregation, never changes or holds it, and emits alerts and recommendations through `emit`.
 */
export interface DetectionsStage {
  observe(event: SecurityEvent, emit: (event: SecurityEvent) => void): void;
  /** Called every second: closes detection windows. */
  tick?(emit: (event: SecurityEvent) => void): void;
  /** Called by flush/close: sends what open windows counted. */
  flush?(emit: (event: SecurityEvent) => void): void;
}

export interface PipelineOptions {
  readonly agentId: string;
  readonly agentVersion: string;
  /** The queues' journal lives under `<stateDir>/queues`; events in it survive restarts. */
  readonly stateDir: string;
  readonly transport: Transport;
  readonly log?: Logger;
  readonly clock?: Clock;
  readonly detections?: DetectionsStage;
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
