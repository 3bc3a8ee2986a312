import type { ExtraDetails } from '../../core/event';

/**
 * The ExtraDetails context (fields outside the type's keyDetails) that every hit of an aggregation key
 * had with the same value. Fields that differed between hits, or were missing from some, are dropped
 * from the aggregate and named in its `VariedDetails`.
 */
export interface SharedDetails {
  common: Record<string, string>;
  varied: string[];
}

export function sharedDetailsOf(details: ExtraDetails | undefined): SharedDetails {
  const common: Record<string, string> = {};
  if (details !== undefined) for (const [k, v] of Object.entries(details)) common[k] = String(v);
  return { common, varied: [] };
}

/** Narrows `into` by one more hit's ExtraDetails. */
export function narrowShared(into: SharedDetails, details: ExtraDetails | undefined): void {
  for (const k of Object.keys(into.common)) {
    if (details === undefined || details[k] === undefined || String(details[k]) !== into.common[k]) {
      delete into.common[k];
      into.varied.push(k);
    }
  }
  if (details === undefined) return;
  for (const k of Object.keys(details)) if (into.common[k] === undefined && !into.varied.includes(k)) into.varied.push(k);
}

/** Merges two entries of the same key (journal restore). */
export function mergeShared(into: SharedDetails, other: SharedDetails): void {
  narrowShared(into, other.common);
  for (const k of other.varied) if (!into.varied.includes(k)) into.varied.push(k);
  for (const k of other.varied) delete into.common[k];
}

/**
 * After a crash, hits counted after the entry was last written in full may have narrowed its context:
 * only the key's own details are certain, the rest is reported as varied.
 */
export function keyDetailsOnly(shared: SharedDetails, keyDetails: readonly string[]): SharedDetails {
  const out: SharedDetails = { common: {}, varied: [...shared.varied] };
  for (const [k, v] of Object.entries(shared.common)) {
    if (keyDetails.includes(k)) out.common[k] = v;
    else if (!out.varied.includes(k)) out.varied.push(k);
  }
  return out;
}

export function isSharedDetails(v: unknown): v is SharedDetails {
  if (v === null || typeof v !== 'object') return false;
  const s = v as Record<string, unknown>;
  return (
    s.common !== null &&
    typeof s.common === 'object' &&
    !Array.isArray(s.common) &&
    Object.values(s.common as object).every((x) => typeof x === 'string') &&
    Array.isArray(s.varied) &&
    s.varied.every((x) => typeof x === 'string')
  );
}

/** The aggregate's ExtraDetails from the normalised first hit's: the shared context, plus VariedDetails. */
export function applyShared(details: ExtraDetails | undefined, shared: SharedDetails): ExtraDetails {
  const out: ExtraDetails = {};
  if (details !== undefined) for (const [k, v] of Object.entries(details)) if (shared.common[k] !== undefined) out[k] = v;
  if (shared.varied.length > 0) out.VariedDetails = [...shared.varied].sort().join(',');
  return out;
}
