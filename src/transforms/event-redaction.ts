import type { PayloadItem, SecurityEvent } from '../core/event';
import { redactCommandLine } from './command-line-secrets';

/**
 * Structural redaction: one pass over every string of every payload item, whatever the field
 * (CommandLine, ExtraDetails.CommandLine, a container's Env, a finding's text, an object key…),
 * before the event is queued. A new event type or field is covered without a list to keep up to date.
 * The item says where a secret was (ExtraDetails.RedactedFields: field paths), never what it was.
 */

export const REDACTED_FIELDS = 'RedactedFields';
/** No event nests deeper; a deeper (or cyclic) payload is malformed and refused, not walked for ever. */
const MAX_DEPTH = 16;
/** At most this many paths are listed in RedactedFields. */
const MAX_LISTED = 8;

function redactValue(value: unknown, path: string, where: string[], depth: number): unknown {
  if (typeof value === 'string') {
    const clean = redactCommandLine(value);
    if (clean !== value) where.push(path);
    return clean;
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) throw new Error(`event payload nested deeper than ${MAX_DEPTH} levels (or cyclic) at ${path.slice(0, 200)}`);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const clean = redactValue(item, `${path}[]`, where, depth + 1);
      if (clean !== item) (out ??= [...value])[i] = clean;
    }
    return out ?? value;
  }
  let out: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    // A key can hold a secret too (an environment entry used as a key: "TOKEN=abc").
    const cleanKey = redactCommandLine(key);
    const fieldPath = path === '' ? cleanKey : `${path}.${cleanKey}`;
    const clean = redactValue(item, fieldPath, where, depth + 1);
    if (cleanKey !== key) {
      where.push(fieldPath);
      out ??= { ...(value as Record<string, unknown>) };
      delete out[key];
      out[cleanKey] = clean;
    } else if (clean !== item) {
      (out ??= { ...(value as Record<string, unknown>) })[key] = clean;
    }
  }
  return out ?? value;
}

function redactItem(item: PayloadItem): PayloadItem {
  const where: string[] = [];
  const clean = redactValue(item, '', where, 0) as PayloadItem;
  if (where.length === 0) return item;
  const listed = [...new Set(where)];
  const text = listed.slice(0, MAX_LISTED).join(',') + (listed.length > MAX_LISTED ? `,+${listed.length - MAX_LISTED}` : '');
  return { ...clean, ExtraDetails: { ...(clean.ExtraDetails ?? {}), [REDACTED_FIELDS]: text } };
}

/** The event with secrets removed from every string of its payload; the same object when nothing changed. */
export function redactEventSecrets(event: SecurityEvent): SecurityEvent {
  let payload: PayloadItem[] | undefined;
  for (let i = 0; i < event.Payload.length; i++) {
    const item = event.Payload[i]!;
    const clean = redactItem(item);
    if (clean !== item) (payload ??= [...event.Payload])[i] = clean;
  }
  return payload ? { ...event, Payload: payload } : event;
}
