import type { ExtraDetails, PayloadItem } from './event';

/** Helpers for AggregationKey implementations (the sources' descriptors). */

/** Separates the fields of a key. */
export const KEY_SEPARATOR = '\u0001';

export function keyText(value: unknown): string {
  return value === undefined || value === null ? '' : typeof value === 'string' ? value : String(value);
}

/**
 * The part of the key made of the ExtraDetails named in `names` (the type's keyDetails: what describes
 * the event itself, e.g. TerminationSignal). Every other ExtraDetails field is context of one execution
 * (Cwd, Tty, ParentCommandLine, ...): it does not split a window (see the aggregator).
 */
export function detailsKey(details: ExtraDetails | undefined, names: readonly string[]): string {
  if (details === undefined) return '';
  let out = '';
  for (const k of names) if (details[k] !== undefined) out += `${KEY_SEPARATOR}${k}=${details[k]}`;
  return out;
}

/** Copies the input's ExtraDetails onto the normalised item. */
export function withDetails(item: PayloadItem, source: PayloadItem): PayloadItem {
  if (source.ExtraDetails !== undefined && Object.keys(source.ExtraDetails).length > 0) item.ExtraDetails = { ...source.ExtraDetails };
  return item;
}
