import { randomUUID } from 'node:crypto';
import type { ConfigView } from '../../config/config-view';
import { createEvent, type PayloadItem, type SecurityEvent } from '../../core/event';
import type { Logger } from '../../core/logger';
import type { Clock } from '../../core/clock';
import type { AggregationKey, EventDescriptor } from '../../core/event-types';
import { applyShared, isSharedDetails, keyDetailsOnly, narrowShared, sharedDetailsOf, type SharedDetails } from './shared-details';
import type { HitUpdate, PersistedWindow, WindowStore } from './window-store';

/** Distinct keys one type's window may hold; past it the window closes early (nothing is dropped). */
export const DEFAULT_MAX_KEYS_PER_WINDOW = 2048;

/**
 * Text a type's window may hold in its keys (which contain the command lines, the bulk of an entry;
 * the entry's first event holds about as much again); past it the window closes early.
 */
export const DEFAULT_MAX_KEY_CHARS_PER_WINDOW = 1 << 20;

/** How often hit counts of open keys are brought up to date in the journal (new keys are written at once). */
export const HIT_CHECKPOINT_MS = 30_000;

/** An aggregatable event type: its name and key. */
export interface AggregationRule extends AggregationKey {
  readonly name: string;
}

/** The aggregation rules of the event types that have an aggregation key. */
export function aggregationRules(types: readonly EventDescriptor[]): AggregationRule[] {
  return types.flatMap((t) => (t.aggregation ? [{ name: t.name, key: t.aggregation.key, normalize: t.aggregation.normalize, keyDetails: t.aggregation.keyDetails }] : []));
}

export interface AggregatorOptions {
  readonly clock: Clock;
  /** The event types that aggregate (from their descriptors: aggregationRules(EVENT_TYPES)). */
  readonly rules: readonly AggregationRule[];
  /** Receives each Aggregated event (or the original Triggered event of a single-hit key). */
  readonly emit: (event: SecurityEvent) => void;
  readonly maxKeysPerWindow?: number;
  readonly maxKeyCharsPerWindow?: number;
  readonly log?: Logger;
  /** Persists open windows so that a crash loses no key (the pipeline wires it to its state journal). */
  readonly store?: WindowStore;
}

export interface AggregatorStats {
  /** Raw payload items absorbed into open windows right now. */
  pendingHits: number;
  /** Distinct keys in open windows right now. */
  pendingKeys: number;
  /** Windows closed before their interval because they reached the key limit. */
  earlyCloses: number;
}

interface Hits {
  count: number;
  /** The first hit as a one-item event: what a single-hit key is sent as. */
  first: SecurityEvent;
  startUtc: string;
  startLocal: string;
  endUtc: string;
  endLocal: string;
  /** Context (ExtraDetails outside the key) the hits so far had in common. */
  shared: SharedDetails;
  /** Journal id, when persisted. */
  id?: number;
  /** Hits since the last checkpoint. */
  dirty?: boolean;
}

/** An open entry as written to the journal. */
interface PersistedHits {
  name: string;
  openedAt: number;
  count: number;
  startUtc: string;
  startLocal: string;
  endUtc: string;
  endLocal: string;
  first: SecurityEvent;
  /** Absent in entries written before context stopped being part of the key (their hits had identical details). */
  shared?: SharedDetails;
}

function isPersistedHits(v: unknown): v is PersistedHits {
  if (v === null || typeof v !== 'object') return false;
  const p = v as Record<string, unknown>;
  const first = p.first as Record<string, unknown> | null | undefined;
  return (
    typeof p.name === 'string' &&
    typeof p.openedAt === 'number' &&
    Number.isSafeInteger(p.count) &&
    (p.count as number) > 0 &&
    ['startUtc', 'startLocal', 'endUtc', 'endLocal'].every((k) => typeof p[k] === 'string') &&
    first !== null &&
    typeof first === 'object' &&
    Array.isArray(first.Payload) &&
    first.Payload.length === 1 &&
    typeof first.Payload[0] === 'object' &&
    first.Payload[0] !== null &&
    (p.shared === undefined || isSharedDetails(p.shared))
  );
}

interface TypeWindow {
  readonly rule: AggregationRule;
  enabled: boolean;
  intervalMs: number;
  openedAt: number;
  timer: unknown;
  hits: Map<string, Hits>;
  pendingHits: number;
  keyChars: number;
  lastEarlyCloseLog: number;
}

/**
 * Collapses identical ProcessCreate / ProcessTerminate / ConnectionCreate events seen within a window
 * (per type: aggregationEnabled<Name>, aggregationInterval<Name>) into one `Aggregated` event whose
 * ExtraDetails say when the first and last hit happened and how many there were.
 */
export class Aggregator {
  private readonly windows = new Map<string, TypeWindow>();
  private readonly maxKeys: number;
  private readonly maxKeyChars: number;
  private earlyCloses = 0;

  constructor(private readonly options: AggregatorOptions) {
    this.maxKeys = Math.max(1, options.maxKeysPerWindow ?? DEFAULT_MAX_KEYS_PER_WINDOW);
    this.maxKeyChars = Math.max(1, options.maxKeyCharsPerWindow ?? DEFAULT_MAX_KEY_CHARS_PER_WINDOW);
    for (const rule of options.rules) {
      this.windows.set(rule.name, { rule, enabled: false, intervalMs: 0, openedAt: 0, timer: undefined, hits: new Map(), pendingHits: 0, keyChars: 0, lastEarlyCloseLog: -Infinity });
    }
  }

  /** Applies the aggregation settings; a disabled type's open window is emitted, a changed interval rescheduled. */
  configure(config: ConfigView): void {
    for (const w of this.windows.values()) {
      const enabledName = `aggregationEnabled${w.rule.name}`;
      const intervalName = `aggregationInterval${w.rule.name}`;
      const enabled = config.has(enabledName) ? config.boolean(enabledName) : false;
      const intervalMs = config.has(intervalName) ? config.durationMs(intervalName) : 0;
      w.enabled = enabled && intervalMs > 0;
      const changed = intervalMs !== w.intervalMs;
      w.intervalMs = intervalMs;
      if (!w.enabled) this.close(w);
      else if (changed && w.hits.size > 0) this.schedule(w);
    }
  }

  /** True when the event was absorbed into a window; false when the caller should queue it as is. */
  ingest(event: SecurityEvent): boolean {
    if (event.Category !== 'Triggered' || event.Payload.length === 0) return false;
    const w = this.windows.get(event.Name);
    if (w === undefined || !w.enabled) return false;
    if (event.Payload.length === 1) this.add(w, event, event.Payload[0]!);
    else for (const item of event.Payload) this.add(w, { ...event, Id: randomUUID(), IsEmpty: false, Payload: [item] }, item);
    return true;
  }

  /** Emits every open window now (flush, close, shutdown). */
  closeAll(): void {
    for (const w of this.windows.values()) this.close(w);
  }

  /** Writes the hit counts that changed since the last checkpoint to the journal. */
  checkpoint(): void {
    const journal = this.options.store;
    if (journal === undefined) return;
    const updates: HitUpdate[] = [];
    for (const w of this.windows.values()) {
      for (const h of w.hits.values()) {
        if (!h.dirty || h.id === undefined) continue;
        h.dirty = false;
        updates.push([h.id, h.count, h.endUtc, h.endLocal]);
      }
    }
    journal.hits(updates);
  }

  /** The open entries in their current state, for the journal's compaction. */
  *persisted(): IterableIterator<PersistedWindow> {
    for (const w of this.windows.values()) {
      for (const h of w.hits.values()) if (h.id !== undefined) yield { seq: h.id, json: this.serialize(w, h) };
    }
  }

  /**
   * Takes back the entries a previous run left open (after configure()): windows keep their opening
   * time, so one already due closes at once; a type no longer aggregated is emitted at once.
   * Returns how many raw hits came back.
   */
  restore(records: readonly PersistedWindow[]): number {
    let hits = 0;
    const touched = new Set<TypeWindow>();
    for (const r of records) {
      let p: unknown;
      try {
        p = JSON.parse(r.json);
      } catch {
        p = undefined;
      }
      const w = isPersistedHits(p) ? this.windows.get(p.name) : undefined;
      if (!isPersistedHits(p) || w === undefined) {
        this.options.log?.warn('unreadable aggregation entry in the queue journal, skipped', { id: r.seq });
        this.options.store?.close([r.seq]);
        continue;
      }
      const firstItem = p.first.Payload[0]!;
      let shared = p.shared ?? sharedDetailsOf(firstItem.ExtraDetails);
      // Hits counted after the entry was last written in full may have narrowed its context.
      if (p.shared !== undefined && r.hits !== undefined && r.hits[1] > p.count) shared = keyDetailsOnly(shared, w.rule.keyDetails);
      const h: Hits = { count: p.count, first: p.first, startUtc: p.startUtc, startLocal: p.startLocal, endUtc: p.endUtc, endLocal: p.endLocal, shared, id: r.seq };
      if (r.hits !== undefined) [, h.count, h.endUtc, h.endLocal] = r.hits;
      const key = w.rule.key(p.first.Payload[0]!);
      const existing = w.hits.get(key);
      if (existing !== undefined) {
        this.merge(existing, h);
        this.options.store?.close([r.seq]);
      } else {
        w.hits.set(key, h);
        w.keyChars += key.length;
      }
      w.openedAt = touched.has(w) ? Math.min(w.openedAt, p.openedAt) : p.openedAt;
      w.pendingHits += h.count;
      hits += h.count;
      touched.add(w);
    }
    for (const w of touched) {
      if (w.enabled) this.schedule(w);
      else this.close(w);
    }
    return hits;
  }

  stats(): AggregatorStats {
    let pendingHits = 0;
    let pendingKeys = 0;
    for (const w of this.windows.values()) {
      pendingHits += w.pendingHits;
      pendingKeys += w.hits.size;
    }
    return { pendingHits, pendingKeys, earlyCloses: this.earlyCloses };
  }

  private add(w: TypeWindow, event: SecurityEvent, item: PayloadItem): void {
    const key = w.rule.key(item);
    const hits = w.hits.get(key);
    if (hits !== undefined) {
      hits.count++;
      hits.dirty = true;
      narrowShared(hits.shared, item.ExtraDetails);
      w.pendingHits++;
      if (event.TimestampUTC < hits.startUtc) {
        hits.startUtc = event.TimestampUTC;
        hits.startLocal = event.TimestampLocal;
      } else if (event.TimestampUTC >= hits.endUtc) {
        hits.endUtc = event.TimestampUTC;
        hits.endLocal = event.TimestampLocal;
      }
      return;
    }
    if (w.hits.size > 0 && (w.hits.size >= this.maxKeys || w.keyChars + key.length > this.maxKeyChars)) {
      this.earlyCloses++;
      const now = this.options.clock.now();
      if (now - w.lastEarlyCloseLog >= 60_000) {
        w.lastEarlyCloseLog = now;
        this.options.log?.info('aggregation window reached its size limit, closing it early', { type: w.rule.name, keys: w.hits.size, keyChars: w.keyChars, earlyClosesTotal: this.earlyCloses });
      }
      this.close(w);
    }
    w.keyChars += key.length;
    const t = { startUtc: event.TimestampUTC, startLocal: event.TimestampLocal };
    const h: Hits = { count: 1, first: event, ...t, endUtc: t.startUtc, endLocal: t.startLocal, shared: sharedDetailsOf(item.ExtraDetails) };
    w.hits.set(key, h);
    w.pendingHits++;
    if (w.hits.size === 1) {
      w.openedAt = this.options.clock.now();
      this.schedule(w);
    }
    if (this.options.store !== undefined) h.id = this.options.store.open(this.serialize(w, h));
  }

  private serialize(w: TypeWindow, h: Hits): string {
    const p: PersistedHits = {
      name: w.rule.name,
      openedAt: w.openedAt,
      count: h.count,
      startUtc: h.startUtc,
      startLocal: h.startLocal,
      endUtc: h.endUtc,
      endLocal: h.endLocal,
      first: h.first,
      shared: h.shared,
    };
    return JSON.stringify(p);
  }

  private merge(into: Hits, other: Hits): void {
    into.count += other.count;
    into.dirty = true;
    narrowShared(into.shared, other.shared);
    if (other.startUtc < into.startUtc) [into.startUtc, into.startLocal] = [other.startUtc, other.startLocal];
    if (other.endUtc > into.endUtc) [into.endUtc, into.endLocal] = [other.endUtc, other.endLocal];
  }

  private schedule(w: TypeWindow): void {
    const { clock } = this.options;
    if (w.timer !== undefined) clock.clearTimeout(w.timer);
    // Clamped to one interval: a wall clock set backwards must not hold a window open longer.
    const due = Math.min(w.intervalMs, Math.max(0, w.openedAt + w.intervalMs - clock.now()));
    w.timer = clock.setTimeout(() => {
      w.timer = undefined;
      this.close(w);
    }, due);
  }

  private close(w: TypeWindow): void {
    if (w.timer !== undefined) {
      this.options.clock.clearTimeout(w.timer);
      w.timer = undefined;
    }
    if (w.hits.size === 0) return;
    const hits = w.hits;
    w.hits = new Map();
    w.pendingHits = 0;
    w.keyChars = 0;
    const now = new Date(this.options.clock.now());
    const ids: number[] = [];
    for (const h of hits.values()) {
      try {
        this.options.emit(this.toEvent(w.rule, h, now));
      } catch (err) {
        this.options.log?.warn('could not emit an aggregated event', { type: w.rule.name, error: err });
      }
      if (h.id !== undefined) ids.push(h.id);
    }
    // After the emitted events were queued (and journaled), so a crash in between duplicates, never loses.
    this.options.store?.close(ids);
  }

  private toEvent(rule: AggregationRule, h: Hits, now: Date): SecurityEvent {
    // A single hit goes out as the original Triggered event (only its own item if it carried several).
    if (h.count === 1) return h.first;
    const item = rule.normalize(h.first.Payload[0]!);
    item.ExtraDetails = {
      ...applyShared(item.ExtraDetails, h.shared),
      StartTimeUtc: h.startUtc,
      EndTimeUtc: h.endUtc,
      StartTimeLocal: h.startLocal,
      EndTimeLocal: h.endLocal,
      HitCount: String(h.count),
    };
    return createEvent(rule.name, 'Aggregated', [item], { eventType: h.first.EventType, payloadSchemaVersion: h.first.PayloadSchemaVersion, now });
  }
}
