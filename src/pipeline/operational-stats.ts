import { createEvent, type SecurityEvent } from '../core/event';
import type { MessagePriority } from '../core/priority';

/** Counters the operational statistics events report, each since the previous report. */
export interface CounterSource {
  collectedCount(queue: MessagePriority): number;
  droppedCount(queue: MessagePriority): number;
}

export interface MessageCounters {
  messagesSent: number;
  messagesUnder4KB: number;
  failedSends: number;
}

interface Baseline {
  collectedHigh: number;
  collectedLow: number;
  droppedHigh: number;
  droppedLow: number;
  droppedOperational: number;
  messagesSent: number;
  messagesUnder4KB: number;
  failedSends: number;
}

const ZERO: Baseline = {
  collectedHigh: 0,
  collectedLow: 0,
  droppedHigh: 0,
  droppedLow: 0,
  droppedOperational: 0,
  messagesSent: 0,
  messagesUnder4KB: 0,
  failedSends: 0,
};

/**
 * DroppedEventsStatistics (per queue High and Low: events collected and dropped) and MessageStatistics
 * (messages sent, of which under 4 KB, failed sends), each covering the period since the previous report.
 * Drops in the Operational queue, which the official schema has no Queue value for, are counted in
 * stats() and logged.
 */
export class OperationalStats {
  private last: Baseline = ZERO;

  constructor(
    private readonly queues: CounterSource,
    private readonly messages: () => MessageCounters,
  ) {}

  /** True when security events went in, anything was dropped, or a send failed since the last report. */
  hasActivity(): boolean {
    const now = this.current();
    return (
      now.collectedHigh !== this.last.collectedHigh ||
      now.collectedLow !== this.last.collectedLow ||
      now.droppedHigh !== this.last.droppedHigh ||
      now.droppedLow !== this.last.droppedLow ||
      now.droppedOperational !== this.last.droppedOperational ||
      now.failedSends !== this.last.failedSends
    );
  }

  /** The two events for the period now ending, and a new period starts. */
  report(now: Date): SecurityEvent[] {
    const cur = this.current();
    const prev = this.last;
    this.last = cur;
    const opts = { eventType: 'Operational' as const, now };
    return [
      createEvent(
        'DroppedEventsStatistics',
        'Periodic',
        [
          { Queue: 'High', CollectedEvents: cur.collectedHigh - prev.collectedHigh, DroppedEvents: cur.droppedHigh - prev.droppedHigh },
          { Queue: 'Low', CollectedEvents: cur.collectedLow - prev.collectedLow, DroppedEvents: cur.droppedLow - prev.droppedLow },
        ],
        opts,
      ),
      createEvent(
        'MessageStatistics',
        'Periodic',
        [
          {
            MessagesSent: cur.messagesSent - prev.messagesSent,
            MessagesUnder4KB: cur.messagesUnder4KB - prev.messagesUnder4KB,
            TotalFailed: cur.failedSends - prev.failedSends,
          },
        ],
        opts,
      ),
    ];
  }

  private current(): Baseline {
    const m = this.messages();
    return {
      collectedHigh: this.queues.collectedCount('High'),
      collectedLow: this.queues.collectedCount('Low'),
      droppedHigh: this.queues.droppedCount('High'),
      droppedLow: this.queues.droppedCount('Low'),
      droppedOperational: this.queues.droppedCount('Operational'),
      messagesSent: m.messagesSent,
      messagesUnder4KB: m.messagesUnder4KB,
      failedSends: m.failedSends,
    };
  }
}
