import { randomUUID } from 'node:crypto';
import type { PayloadItem, SecurityEvent } from '../../core/event';
import type { QueuedEvent } from '../../core/queued-event';
import type { MessagePriority } from '../../core/priority';

export const MESSAGE_SCHEMA_VERSION = '1.0';

export interface MessageIdentity {
  readonly agentId: string;
  readonly agentVersion: string;
}

/** The message JSON around its events: `prefix + events.join(',') + suffix`, the exact body sent. */
export interface Envelope {
  readonly prefix: string;
  readonly suffix: string;
  /** UTF-8 bytes of prefix + suffix. */
  readonly bytes: number;
}

export function envelope(identity: MessageIdentity): Envelope {
  const prefix = `{"AgentVersion":${JSON.stringify(identity.agentVersion)},"AgentId":${JSON.stringify(identity.agentId)},"MessageSchemaVersion":"${MESSAGE_SCHEMA_VERSION}","Events":[`;
  const suffix = ']}';
  return { prefix, suffix, bytes: Buffer.byteLength(prefix) + suffix.length };
}

/** The largest event (UTF-8 JSON bytes) that fits a message of `maxMessageBytes` alone. */
export function maxEventBytes(env: Envelope, maxMessageBytes: number): number {
  return maxMessageBytes - env.bytes;
}

/** What the builder reads: the queues by name, oldest first. PriorityQueues implements it. */
export interface QueueSource {
  length(queue: MessagePriority): number;
  at(queue: MessagePriority, i: number): QueuedEvent | undefined;
}

export interface BuiltMessage {
  readonly body: string;
  /** UTF-8 bytes of body, computed from the parts and equal to Buffer.byteLength(body). */
  readonly bytes: number;
  /** Per queue, the events taken (a prefix of that queue), to acknowledge once the message is accepted. */
  readonly taken: Readonly<Record<MessagePriority, readonly QueuedEvent[]>>;
  readonly eventCount: number;
}

/**
 * Fills one message: takes each queue of `order` oldest first (Operational, then the message's own
 * priority, then the other) while the next event fits; a queue whose next event does not fit yields to
 * the next queue. Returns undefined when nothing fits (all empty, or heads oversize — see fitHeads).
 */
export function buildMessage(queues: QueueSource, order: readonly MessagePriority[], env: Envelope, maxMessageBytes: number): BuiltMessage | undefined {
  const taken: Record<MessagePriority, QueuedEvent[]> = { High: [], Low: [], Operational: [] };
  const parts: string[] = [];
  let bytes = env.bytes;
  for (const q of order) {
    for (let i = 0; ; i++) {
      const e = queues.at(q, i);
      if (e === undefined) break;
      const add = e.bytes + (parts.length > 0 ? 1 : 0);
      if (bytes + add > maxMessageBytes) break;
      bytes += add;
      parts.push(e.json);
      taken[q].push(e);
    }
  }
  if (parts.length === 0) return undefined;
  return { body: env.prefix + parts.join(',') + env.suffix, bytes, taken, eventCount: parts.length };
}

export interface SplitResult {
  /** JSON texts of the parts, each no larger than the limit, in payload order. */
  parts: string[];
  /** Payload items that alone do not fit the limit and were left out. */
  droppedItems: number;
}

/**
 * Splits an event whose JSON exceeds `limitBytes` into events of the same Name/Category/timestamps
 * (each its own Id) carrying consecutive slices of its Payload. Sizes are exact: the event with an
 * empty payload, plus each item's JSON, plus the commas between items.
 */
export function splitOversizeEvent(event: SecurityEvent, limitBytes: number): SplitResult {
  const base = Buffer.byteLength(JSON.stringify({ ...event, Payload: [] }));
  const groups: PayloadItem[][] = [];
  let current: PayloadItem[] = [];
  let size = base;
  let droppedItems = 0;
  for (const item of event.Payload) {
    const itemBytes = Buffer.byteLength(JSON.stringify(item));
    if (base + itemBytes > limitBytes) {
      droppedItems++;
      continue;
    }
    const add = itemBytes + (current.length > 0 ? 1 : 0);
    if (size + add > limitBytes) {
      groups.push(current);
      current = [];
      size = base;
    }
    size += itemBytes + (current.length > 0 ? 1 : 0);
    current.push(item);
  }
  if (current.length > 0) groups.push(current);
  const parts: string[] = [];
  for (const g of groups) {
    const json = JSON.stringify({ ...event, Id: groups.length === 1 ? event.Id : randomUUID(), IsEmpty: false, Payload: g });
    // Cannot happen by construction; kept so that no path can ever queue an oversize event.
    if (Buffer.byteLength(json) > limitBytes) droppedItems += g.length;
    else parts.push(json);
  }
  return { parts, droppedItems };
}

/** Serializes an event for a queue: one JSON text when it fits, else its split parts. */
export function serializeForQueue(event: SecurityEvent, limitBytes: number): SplitResult {
  const json = JSON.stringify(event);
  // A UTF-8 text is at most 3 bytes per UTF-16 unit: skip the exact count when it obviously fits.
  if (json.length * 3 <= limitBytes || Buffer.byteLength(json) <= limitBytes) return { parts: [json], droppedItems: 0 };
  return splitOversizeEvent(event, limitBytes);
}
