import { randomUUID } from 'node:crypto';
import type { PriorityQueues } from './queues/priority-queues';
import { QUEUE_NAMES } from './queues/priority-queues';
import type { SecurityEvent } from '../core/event';
import { buildMessage, splitOversizeEvent, type BuiltMessage, type Envelope } from './codec/message-builder';
import type { MessagePriority } from '../core/priority';
import type { Transport } from '../core/transport';
import type { Clock } from '../core/clock';

/** First retry after a rejected send; doubles per failure up to RETRY_MAX_MS. */
export const RETRY_BASE_MS = 1_000;
export const RETRY_MAX_MS = 60_000;
/** A send neither accepted nor rejected by then counts as failed (events stay queued; a late accept means a duplicate). */
export const SEND_TIMEOUT_MS = 120_000;
const BILLING_UNIT_BYTES = 4096;

export interface SendLimits {
  readonly envelope: Envelope;
  readonly maxMessageBytes: number;
  /** Largest event that fits a message alone. */
  readonly eventLimit: number;
}

export interface SenderOptions {
  readonly queues: PriorityQueues;
  readonly transport: Transport;
  readonly clock: Clock;
  /** Payload items left out because they alone exceed a message. */
  readonly onOversize: (name: string, items: number) => void;
  /** A rate-limited warning. */
  readonly warn: (key: string, message: string, details: Record<string, unknown>) => void;
}

export interface SendFigures {
  messages: number;
  events: number;
  bytes: number;
  under4KB: number;
  failed: number;
  lastError?: string;
}

/**
 * Turns queues into messages on request, one message in flight at a time: builds (Operational first,
 * then the requested queue, then the other), sends, acknowledges the queues on success; on rejection
 * keeps the events and retries with backoff. Requests made while a retry is pending wait for it.
 */
export class Sender {
  private limits!: SendLimits;
  private active = false;
  private stopped = false;
  private halted = false;
  private readonly wanted = new Set<MessagePriority>();
  private draining: Promise<void> | undefined;
  private kickHandle: unknown;
  private retryHandle: unknown;
  private consecutiveFailures = 0;
  private readonly figures: SendFigures = { messages: 0, events: 0, bytes: 0, under4KB: 0, failed: 0 };

  constructor(private readonly options: SenderOptions) {}

  setLimits(limits: SendLimits): void {
    this.limits = limits;
  }

  /** Requests from now on start sends (before, they are only remembered). */
  start(): void {
    if (this.stopped) return;
    this.active = true;
    if (this.wanted.size > 0) this.kick();
  }

  /** No new sends or retries; a send in flight finishes. */
  stop(): void {
    this.active = false;
    this.stopped = true;
    this.clear('kickHandle');
    this.clear('retryHandle');
  }

  /** Stops the loop after the message in flight (the queues are closing). */
  halt(): void {
    this.stop();
    this.halted = true;
  }

  stats(): SendFigures {
    return { ...this.figures };
  }

  request(queue: MessagePriority): void {
    this.wanted.add(queue);
    if (!this.active || this.retryHandle !== undefined || this.draining !== undefined) return;
    this.kick();
  }

  /** Sends everything requested now, whatever the backoff; resolves when done or at the first rejection. */
  async sendAll(): Promise<void> {
    for (const q of QUEUE_NAMES) this.wanted.add(q);
    await this.drain();
  }

  /** The transport is back: send what waits now, not at the end of the backoff. */
  retryNow(): void {
    if (!this.active || this.retryHandle === undefined) return;
    this.clear('retryHandle');
    this.consecutiveFailures = 0;
    this.kick();
  }

  private kick(): void {
    if (this.kickHandle !== undefined) return;
    this.kickHandle = this.options.clock.setTimeout(() => {
      this.kickHandle = undefined;
      void this.drain();
    }, 0);
  }

  private clear(which: 'kickHandle' | 'retryHandle'): void {
    const h = this[which];
    if (h !== undefined) this.options.clock.clearTimeout(h);
    this[which] = undefined;
  }

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
    if (this.wanted.size > 0 && this.retryHandle === undefined && this.active) this.kick();
  }

  private async sendWanted(): Promise<void> {
    for (const q of ['High', 'Operational', 'Low'] as const) {
      if (!this.wanted.has(q)) continue;
      this.wanted.delete(q);
      if (!(await this.sendQueue(q))) {
        this.wanted.add(q);
        this.scheduleRetry();
        return;
      }
    }
  }

  private hasOwnEvents(queue: MessagePriority): boolean {
    const { queues } = this.options;
    if (queue === 'High') return queues.length('High') > 0;
    if (queue === 'Operational') return queues.length('Operational') > 0;
    return queues.length('Low') > 0 || queues.length('Operational') > 0;
  }

  /** Messages for `queue` until it (and the Operational queue, which rides along) is empty; false on a rejection. */
  private async sendQueue(queue: MessagePriority): Promise<boolean> {
    const order: readonly MessagePriority[] =
      queue === 'Operational' ? ['Operational', 'High', 'Low'] : ['Operational', queue, queue === 'High' ? 'Low' : 'High'];
    while (!this.halted && this.hasOwnEvents(queue)) {
      for (const q of order) this.fitHead(q);
      const message = buildMessage(this.options.queues, order, this.limits.envelope, this.limits.maxMessageBytes);
      if (message === undefined) return true;
      if (!(await this.sendOne(queue, message))) return false;
    }
    return true;
  }

  /** Makes the head of `queue` fit a message alone (after maxMessageSizeInBytes shrank): split, or drop what cannot. */
  private fitHead(queue: MessagePriority): void {
    const { queues, onOversize } = this.options;
    for (let head = queues.at(queue, 0); head !== undefined && head.bytes > this.limits.eventLimit; head = queues.at(queue, 0)) {
      let event: SecurityEvent;
      try {
        event = JSON.parse(head.json) as SecurityEvent;
      } catch {
        queues.replaceHead(queue, []);
        onOversize('(unreadable)', 1);
        continue;
      }
      const { parts, droppedItems } = splitOversizeEvent(event, this.limits.eventLimit);
      if (droppedItems > 0) onOversize(event.Name, droppedItems);
      queues.replaceHead(queue, parts);
    }
  }

  private async sendOne(queue: MessagePriority, message: BuiltMessage): Promise<boolean> {
    const { clock, transport, queues } = this.options;
    let timer: unknown;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = clock.setTimeout(() => reject(new Error(`no answer from the ${transport.name} transport within ${SEND_TIMEOUT_MS / 1000} s`)), SEND_TIMEOUT_MS);
      });
      const sent = transport.send({ body: message.body, messageId: randomUUID(), priority: queue, eventCount: message.eventCount });
      sent.catch(() => undefined); // a rejection after the timeout has nobody left to handle it
      await Promise.race([sent, timeout]);
    } catch (err) {
      this.figures.failed++;
      this.consecutiveFailures++;
      this.figures.lastError = err instanceof Error ? err.message : String(err);
      this.options.warn('send', 'message not accepted; events stay queued', { transport: transport.name, error: this.figures.lastError });
      return false;
    } finally {
      clock.clearTimeout(timer);
    }
    this.consecutiveFailures = 0;
    for (const q of QUEUE_NAMES) if (message.taken[q].length > 0) queues.ack(q, message.taken[q]);
    this.figures.messages++;
    this.figures.events += message.eventCount;
    this.figures.bytes += message.bytes;
    if (message.bytes < BILLING_UNIT_BYTES) this.figures.under4KB++;
    return true;
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryHandle !== undefined) return;
    const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(16, Math.max(0, this.consecutiveFailures - 1)));
    this.retryHandle = this.options.clock.setTimeout(() => {
      this.retryHandle = undefined;
      void this.drain();
    }, delay);
  }
}
