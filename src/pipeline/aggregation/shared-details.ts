import type { ExtraDetails } from '../../core/event';

/**
 * The ExtraDetails that every hit of an aggregation key had with the same value. The type's keyDetails
 * are always among them (they are part of the key); context fields (Cwd, Tty, ParentCommandLine, ...)
 * stay only while no hit differed or lacked them. Fields dropped this way are not named: every byte
 * of an aggregate is billed, and the raw events' context was seen by the detections stage.
 */
export type SharedDetails = Record<string, string>;

export function sharedDetailsOf(details: ExtraDetails | undefined): SharedDetails {
  const shared: SharedDetails = {};
  if (details !== undefined) for (const [k, v] of Object.entries(details)) shared[k] = String(v);
  return shared;
}

/** Narrows `into` by one more hit's ExtraDetails (or by another entry's shared details, on restore). */
export function narrowShared(into: SharedDetails, details: ExtraDetails | undefined): void {
  for (const k of Object.keys(into)) {
    if (details === undefined || details[k] === undefined || String(details[k]) !== into[k]) delete into[k];
  }
}

/**
 * After a crash, hits counted after the entry was last written in full may have narrowed its context:
 * only the key's own details are certain.
 */
export function keyDetailsOnly(shared: SharedDetails, keyDetails: readonly string[]): SharedDetails {
  const out: SharedDetails = {};
  for (const k of keyDetails) if (shared[k] !== undefined) out[k] = shared[k];
  return out;
}

export function isSharedDetails(v: unknown): v is SharedDetails {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v as object).every((x) => typeof x === 'string');
}

/** The aggregate's ExtraDetails: the normalised first hit's, less what the hits did not share. */
export function applyShared(details: ExtraDetails | undefined, shared: SharedDetails): ExtraDetails {
  const out: ExtraDetails = {};
  if (details !== undefined) for (const [k, v] of Object.entries(details)) if (shared[k] !== undefined) out[k] = v;
  return out;
}
