import { randomUUID } from 'node:crypto';

/** Defender for IoT event categories, plus the `Aggregated` extension the reference agents send. */
export type EventCategory = 'Periodic' | 'Triggered' | 'Aggregated';
export type EventKind = 'Security' | 'Operational' | 'Diagnostic';
export type ExtraDetails = Record<string, string>;

/** One payload item. Field names follow the per-event JSON Schema of the event's `Name`. */
export type PayloadItem = { [field: string]: unknown; ExtraDetails?: ExtraDetails };

/** A security event exactly as it appears in an outgoing message's `Events[]`. */
export interface SecurityEvent {
  Id: string;
  TimestampLocal: string;
  TimestampUTC: string;
  Category: EventCategory;
  Name: string;
  EventType: EventKind;
  IsEmpty: boolean;
  PayloadSchemaVersion: string;
  Payload: PayloadItem[];
}

/** ISO 8601 local time with the machine's UTC offset, e.g. 2026-11-22T07:01:02.003+01:00. */
export function formatLocalTimestamp(date: Date): string {
  const offsetMinutes = -date.getTimezoneOffset();
  const local = new Date(date.getTime() + offsetMinutes * 60_000);
  const sign = offsetMinutes >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${local.toISOString().slice(0, -1)}${sign}${hh}:${mm}`;
}

/** What a source may ask of the pipeline when it emits an event. */
export interface EmitOptions {
  /** Send at High priority even if the type's priority is Low (never when the type is Off). */
  urgent?: boolean;
}

/** Where events go: a source's emit(), a pipeline stage's output. Synchronous and never throws. */
export type EmitEvent = (event: SecurityEvent, options?: EmitOptions) => void;

export interface EventOptions {
  eventType?: EventKind;
  payloadSchemaVersion?: string;
  now?: Date;
}

/**
 * Builds an event. A Periodic snapshot with nothing to report is sent with `IsEmpty: true`
 * and an empty payload, as the Defender schema requires; Triggered events always carry a payload.
 */
export function createEvent(
  name: string,
  category: EventCategory,
  payload: PayloadItem[],
  options: EventOptions = {},
): SecurityEvent {
  const now = options.now ?? new Date();
  return {
    Id: randomUUID(),
    TimestampLocal: formatLocalTimestamp(now),
    TimestampUTC: now.toISOString(),
    Category: category,
    Name: name,
    EventType: options.eventType ?? 'Security',
    IsEmpty: payload.length === 0,
    PayloadSchemaVersion: options.payloadSchemaVersion ?? '1.0',
    Payload: payload,
  };
}
