import type { PayloadItem, SecurityEvent } from '../../core/event';
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

/**
 * Field names, executable paths and the command lines of periodic jobs repeat from one event to the
 * next: results for short strings are remembered (at most 2,048 strings of up to 256 characters, about
 * 1 MB). Unique strings (an attacker's) just take the normal, linear path.
 */
const known = new Map<string, string>();
const KNOWN_LIMIT = 2048;
const KNOWN_MAX_CHARS = 256;

function redactString(text: string): string {
  if (text.length > KNOWN_MAX_CHARS) return redactCommandLine(text);
  let clean = known.get(text);
  if (clean === undefined) {
    clean = redactCommandLine(text);
    if (known.size >= KNOWN_LIMIT) known.clear();
    known.set(text, clean);
  }
  return clean;
}

/** Walks `value`; `path` is the field path (a shared stack, joined only when a secret is found). */
function redactValue(value: unknown, path: string[], where: string[], depth: number): unknown {
  if (typeof value === 'string') {
    const clean = redactString(value);
    if (clean !== value) where.push(path.join('.'));
    return clean;
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) throw new Error(`event payload nested deeper than ${MAX_DEPTH} levels (or cyclic) at ${path.join('.').slice(0, 200)}`);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    path.push('[]');
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const clean = redactValue(item, path, where, depth + 1);
      if (clean !== item) (out ??= [...value])[i] = clean;
    }
    path.pop();
    return out ?? value;
  }
  let out: Record<string, unknown> | undefined;
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (!Object.prototype.hasOwnProperty.call(record, key)) continue;
    const item = record[key];
    // A key can hold a secret too (an environment entry used as a key: "TOKEN=abc").
    const cleanKey = redactString(key);
    path.push(cleanKey);
    const clean = redactValue(item, path, where, depth + 1);
    if (cleanKey !== key) {
      where.push(path.join('.'));
      out ??= { ...record };
      delete out[key];
      out[cleanKey] = clean;
    } else if (clean !== item) {
      (out ??= { ...record })[key] = clean;
    }
    path.pop();
  }
  return out ?? value;
}

function redactItem(item: PayloadItem): PayloadItem {
  const where: string[] = [];
  const clean = redactValue(item, [], where, 0) as PayloadItem;
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
