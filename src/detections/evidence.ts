import type { PayloadItem } from '../core/event';

export const MAX_EVIDENCE_ITEMS = 5;
const MAX_STRING = 512;
const MAX_ARRAY = 16;
const MAX_KEYS = 40;
const MAX_DEPTH = 4;

/**
 * A bounded copy of a payload item for an alert's evidence: strings cut to 512 characters, arrays to
 * 16 entries, objects to 40 keys and 4 levels. The pipeline redacted the item before the engine saw it.
 */
export function boundedCopy(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '…';
  if (Array.isArray(value)) return value.slice(0, MAX_ARRAY).map((v) => boundedCopy(v, depth + 1));
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [k, v] of Object.entries(value)) {
    if (n++ >= MAX_KEYS) break;
    out[k.length > 64 ? k.slice(0, 64) : k] = boundedCopy(v, depth + 1);
  }
  return out;
}

export interface EvidenceEntry {
  EventName: string;
  TimestampUTC: string;
  Payload: PayloadItem;
}

export function evidenceEntry(eventName: string, time: number, item: PayloadItem): EvidenceEntry {
  return { EventName: eventName, TimestampUTC: new Date(time).toISOString(), Payload: boundedCopy(item) as PayloadItem };
}
