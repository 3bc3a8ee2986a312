import type { ExtraDetails, PayloadItem } from './event';

/** Helpers for AggregationKey implementations (the sources' descriptors). */

/** Separates the fields of a key. */
export const KEY_SEPARATOR = '\u0001';

export function keyText(value: unknown): string {
  return value === undefined || value === null ? '' : typeof value === 'string' ? value : String(value);
}

/** The input's ExtraDetails are part of the key, so an Aggregated event carries them unchanged. */
export function detailsKey(details: ExtraDetails | undefined): string {
  if (details === undefined) return '';
  const keys = Object.keys(details);
  if (keys.length === 0) return '';
  if (keys.length > 1) keys.sort();
  let out = '';
  for (const k of keys) out += `${KEY_SEPARATOR}${k}=${details[k]}`;
  return out;
}

/** Copies the input's ExtraDetails onto the normalised item. */
export function withDetails(item: PayloadItem, source: PayloadItem): PayloadItem {
  if (source.ExtraDetails !== undefined && Object.keys(source.ExtraDetails).length > 0) item.ExtraDetails = { ...source.ExtraDetails };
  return item;
}
